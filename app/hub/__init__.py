"""The headless hub (`orderhub hub`): pollers per shop, push receivers, ownership by advisory lock."""
