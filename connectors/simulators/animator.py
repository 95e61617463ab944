"""Keeps a simulated shop alive: new orders keep coming, some change, some are cancelled or shipped."""

from __future__ import annotations

import threading

from connectors.simulators.world import SimWorld


class Animator(threading.Thread):
    """Every ``tick`` seconds: about ``rate × tick`` new orders, plus the changes real buyers make."""

    def __init__(self, world: SimWorld, *, rate: float = 0.5, tick: float = 1.0) -> None:
        super().__init__(name=f"animate-{world.platform}", daemon=True)
        self.world, self.rate, self.tick = world, rate, tick
        self.stop_event = threading.Event()

    def step(self) -> None:
        rng, world = self.world.rng, self.world
        due = self.rate * self.tick
        count = int(due) + (1 if rng.random() < due - int(due) else 0)
        if count:
            world.create(count, status="pending_payment" if rng.random() < 0.1 else "paid")
        with world.lock:
            open_ids = [o.order_id for o in world.orders.values() if o.status in ("paid", "pending_payment")]
        if not open_ids:
            return
        pick = rng.choice(open_ids)
        roll = rng.random()
        if roll < 0.03:
            world.change_address(pick)
        elif roll < 0.05:
            world.cancel(pick)
        elif roll < 0.08:
            world.request_refund(pick)
        elif roll < 0.20:
            world.ship(pick, f"SF{rng.randrange(10**12, 10**13)}")
        elif roll < 0.25 and world.orders[pick].status == "pending_payment":
            world.pay(pick)

    def run(self) -> None:
        while not self.stop_event.wait(self.tick):
            self.step()

    def stop(self) -> None:
        self.stop_event.set()
