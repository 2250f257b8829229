"""Faust's Kafka consumer, with one change to its per-message loop.

Faust hands every fetched message to its conductor through `Service.wait_first(callback,
suspend_flow.wait())`, so that a rebalance can interrupt a delivery blocked on a full stream
buffer. `wait_first` makes four tasks and an `asyncio.wait` per message: measured, about half
of the CPU an empty agent costs per message (bench/faust_passthrough.py). Most deliveries never
block (the buffers have room, the flow is on), so here the delivery runs first as a plain
coroutine step; only one that blocks is handed to `wait_first`, which waits for it exactly as
before. Each message still gets its own turn of the event loop: without that, a burst of up to
100 messages was delivered before a rebalance's callbacks could run, and the SIGKILL test lost
intervals (tests/reliability/test_worker_crash.py). What is delivered, in which order, and
what is acked and committed is unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine, Generator
from typing import Any, cast

from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka


async def deliver(delivery: Coroutine[Any, Any, Any], suspend_flow: asyncio.Event,
                  wait_first: Any) -> None:
    """Run `delivery` until it completes, or until `suspend_flow` is set while it blocks."""
    try:
        pending = delivery.send(None)
    except StopIteration:
        # delivered without waiting; still one message per turn of the loop, as Faust's own
        # loop does (a rebalance's callbacks run between two messages)
        await asyncio.sleep(0)
        return
    await wait_first(_Resumed(delivery, pending), suspend_flow.wait())


class _Resumed(Awaitable[Any]):
    """The rest of a coroutine that has already run up to its first suspension (`pending`,
    what it yielded): awaiting this continues it as `yield from` would."""

    def __init__(self, coroutine: Coroutine[Any, Any, Any], pending: Any) -> None:
        self._coroutine = coroutine
        self._pending = pending

    def __await__(self) -> Generator[Any, Any, Any]:
        pending = self._pending
        while True:
            try:
                sent = yield pending
            except BaseException as exc:  # cancellation included: passed on to the coroutine
                try:
                    pending = self._coroutine.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    pending = self._coroutine.send(sent)
                except StopIteration as stop:
                    return stop.value


class Consumer(faust_aiokafka.Consumer):
    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover
        # Faust 0.15's Consumer._drain_messages, but for `deliver` (see the module docstring)
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag, unset_flag = self.diag.set_flag, self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                ait = getmany(timeout=1.0)
                await self.sleep(0)
                if not self.should_stop:
                    # no "sleep(0) every 100 messages" as in Faust's: `deliver` yields per message
                    async for tp, message in ait:
                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            await deliver(cast(Coroutine[Any, Any, Any], callback(message)),
                                          self.suspend_flow, self.wait_first)
                            set_read_offset(tp, offset)
                    unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer
