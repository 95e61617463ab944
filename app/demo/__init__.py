"""The demo company 小树苗童装: what a newcomer sees first."""
