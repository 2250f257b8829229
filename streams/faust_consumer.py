"""Faust's Kafka consumer, with two changes to its per-message loop.

1. Input waits for the recovery's seek (a Faust race that lost input after a restart).
   After an assignment Faust's recovery resumes the input partitions, seeks them to their
   committed offsets one round trip at a time, and then resumes the flow, which empties every
   stream buffer (`clear_on_resume`). Messages fetched during that seek are delivered into the
   buffers and thrown away by that resume, and when a partition's seek ran before its fetch
   (a no-op: the position already was the committed offset) they are never fetched again: the
   worker goes on past them. Measured in tests/reliability/test_worker_crash.py: events fed
   while the worker was down (a `call.received`, an `ecg.acquired`) never reached the table,
   in 4 of 6 runs. Here an input message is not delivered until the flow resumes after that
   seek (`InputGate`); a message fetched before it waits, and is delivered after the buffers
   are emptied. Changelog messages (the recovery itself) are never held.

2. The seek to committed offsets rewinds every input partition. Faust leaves messages it
   fetched but did not deliver (the flow suspended, the generation changed) to that seek to
   fetch again, but aiokafka's `seek_to_committed` does not move a partition whose committed
   offset is missing or 0 (`if offset and offset > 0`). Measured in
   tests/reliability/test_worker_crash.py: after a restart the first messages of partitions
   nothing had been committed on (`dispatch.units` offsets 0-3, `clinical.events` offset 0)
   were never processed, and Faust committed past them. Here such a partition is sought to its
   beginning, which is where a group with no committed offset starts (`earliest`).

3. A delivery that does not block runs inline. Faust hands every fetched message to its
   conductor through `Service.wait_first(callback, suspend_flow.wait())`, so that a rebalance
   can interrupt a delivery blocked on a full stream buffer. `wait_first` makes four tasks and
   an `asyncio.wait` per message: measured, about half of the CPU an empty agent costs per
   message (bench/faust_passthrough.py). Most deliveries never block (the buffers have room,
   the flow is on), so here the delivery runs first as a plain coroutine step; only one that
   blocks is handed to `wait_first`, which waits for it exactly as before. Each message still
   gets its own turn of the event loop, as in Faust's loop. What is delivered, in which order,
   and what is acked and committed is unchanged.

4. Messages of the topics an app asks for (`batch_topics`) reach their agent in batches.
   Faust's path from a fetched message to an agent (conductor, stream buffer, event, ack,
   sensors) costs ~80-100 us of CPU a message on the bench machine, more than the worker's
   own handling of a GPS fix. Here the messages one fetch returns for the topics of one agent
   (a group), all their partitions, are gathered, each partition's in offset order, and only
   the last of them goes down Faust's path: it carries the others (`Consumer.take_batch`).
   The agent handles them all, each partition in order, and acknowledges the carried ones
   (`Consumer.ack`) once what they wrote has been sent; Faust acknowledges the carrier. A
   commit covers only acknowledged offsets, so nothing is committed before it is handled; a
   batch dropped by a rebalance is fetched again, like a message. (A batch per partition,
   as first done, gave paced input a carrier per message or two: the per-message cost came
   back exactly where latency is measured.)

5. Fetches wait on the broker at most `FETCH_MAX_WAIT_MS`, not Faust's 1.5 s. aiokafka sends
   a broker no fetch while one is in flight, and a partition left out of that fetch (its
   earlier records not yet taken, or paused) is only asked for once the fetch returns: with
   nothing new on the partitions in it, when the broker's wait runs out. The worker's internal
   feeds are such partitions, a hop each. Measured with bench/bench_e2e.py (bench/README.md):
   on a 100,000-event backlog the worker went idle for 0.45-0.7 s before its last
   pre-alerts, the ETA updates they came from waiting in the incident feed; with 100 ms they
   came 90 ms after the others. The p99 at 90% of the sustained rate fell from 3.2-3.7 s to
   0.4-1.3 s. An idle worker sends about ten fetches a second.

6. A commit due by count (every `broker_commit_every` acknowledged messages) runs beside the
   fetch loop, as Faust's commit timer does, not inside it. A commit first flushes the
   producer, and aiokafka has one produce request in flight per broker: Faust's loop stopped
   delivering until every send was in Kafka. Measured with bench/bench_e2e.py's backlog
   (a new app's first appends to its changelogs took the broker 230-260 ms): the worker's
   first commit waited 250-500 ms, its thread idle, 10-15% of the timed window. A commit
   still covers only what was sent: it takes the acknowledged offsets before it flushes, and
   a message is acknowledged only after its sends were made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Mapping
from typing import Any, cast

from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.producer import DeliveryFailed, DirectProducer


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


def never_committed(committed: Mapping[Any, int | None],
                    is_changelog: Callable[[Any], bool]) -> list[Any]:
    """The input partitions aiokafka's seek to committed offsets leaves where they are: no
    committed offset, or 0. (Changelogs are read from where the recovery says, never here.)"""
    return [tp for tp, offset in committed.items() if not offset and not is_changelog(tp)]


class InputGate:
    """Whether input messages may be delivered: closed from a rebalance (revocation or
    assignment) until Faust's recovery has sought the resumed input partitions to their
    committed offsets and then resumed the flow (which empties the stream buffers). Changelog
    messages never wait."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._sought = False

    def is_open(self) -> bool:
        return self._open.is_set()

    async def wait(self) -> None:
        await self._open.wait()

    def rebalance(self) -> None:
        self._open.clear()
        self._sought = False

    def sought(self, inputs_paused: bool) -> None:
        """A seek to the committed offsets; it counts only once the input partitions are
        resumed (Faust also seeks from `getmany` while the flow is stopped mid-rebalance)."""
        self._sought = not inputs_paused

    def flow_resumed(self) -> None:
        if self._sought:
            self._open.set()


BATCH_LIMIT = 500  # messages a carrier takes at most: one agent step stays short


class Batches:
    """Messages of the batched topics gathered by group (the topics one agent reads), in the
    order read, and the batches handed over, by their carrier (their last message)."""

    def __init__(self, limit: int = BATCH_LIMIT) -> None:
        self.limit = limit
        self._open: dict[str, list[Any]] = {}
        self._carried: dict[Any, list[Any]] = {}

    def add(self, group: str, message: Any) -> Any | None:
        """Gather `message`; returns a carrier when its group's batch is full."""
        batch = self._open.setdefault(group, [])
        batch.append(message)
        return self._close(group) if len(batch) >= self.limit else None

    def close_all(self) -> list[Any]:
        """The carriers of every batch gathered (at the end of a fetch)."""
        return [self._close(group) for group in list(self._open)]

    def drop_open(self) -> None:
        """Forget what was gathered and not handed over (fetched before a rebalance)."""
        self._open.clear()

    def take(self, carrier: Any) -> list[Any]:
        """The messages `carrier` carries, itself last; just `[carrier]` for any other."""
        return self._carried.pop(carrier, None) or [carrier]

    def forget_carried(self) -> None:
        """After a rebalance the stream buffers are emptied: their carriers never come."""
        self._carried.clear()

    def _close(self, group: str) -> Any:
        batch = self._open.pop(group)
        carrier = batch[-1]
        self._carried[carrier] = batch
        return carrier


class Transport(faust_aiokafka.Transport):
    # topic name -> its batch group, for the topics whose messages reach their agent in
    # batches (set by `batch_topics`)
    batched: Mapping[str, str] = {}
    _sends: DirectProducer | None = None

    def direct_producer(self) -> DirectProducer:
        """The app's sends outside Faust's topics (streams/producer.py); one per app, since a
        failed send must stop its commits."""
        if self._sends is None:
            self._sends = DirectProducer(self.app)
        return self._sends

    def delivery_failure(self) -> DeliveryFailed | None:
        return None if self._sends is None else self._sends.failure


def batch_topics(app: Any, group: str, names: Iterable[str]) -> None:
    """Deliver the messages of these topics (read by one agent, named by `group`) to it in
    batches (see the docstring); the agent must handle `Consumer.take_batch(message)`."""
    app.transport.batched = {**app.transport.batched, **dict.fromkeys(names, group)}


FETCH_MAX_WAIT_MS = 100


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread, whose fetches wait at most `FETCH_MAX_WAIT_MS` (see 5.)."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read by `start`, which makes the fetcher
        return consumer


class Consumer(faust_aiokafka.Consumer):
    _gate: InputGate | None = None
    _batches: Batches | None = None
    _count_commit: asyncio.Future[Any] | None = None

    @property
    def batches(self) -> Batches:
        if self._batches is None:
            self._batches = Batches()
        return self._batches

    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def take_batch(self, message: Any) -> list[Any]:
        """The messages an agent's message carries (itself last); see `batch_topics`."""
        return self.batches.take(message)

    async def _commit(self, offsets: Mapping[Any, int]) -> bool:
        # Faust flushed the producer just before: a send that failed is known by now, and the
        # input it came from must not be committed (streams/producer.py)
        failure = cast(Transport, self.transport).delivery_failure()
        if failure is not None:
            await self.crash(failure)
            return False
        return bool(await super()._commit(offsets))

    def commit_beside(self) -> None:
        """A commit due by count (`broker_commit_every`), run beside the fetch loop (see 6.);
        none is started while the last one started here runs."""
        if self._count_commit is None or self._count_commit.done():
            self._count_commit = self.add_future(self.commit())

    @property
    def input_gate(self) -> InputGate:
        if self._gate is None:
            self._gate = InputGate()
        return self._gate

    def _is_changelog(self, tp: Any) -> bool:
        return tp.topic in self.app.tables.changelog_topics

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.input_gate.rebalance()
        await super().on_partitions_revoked(revoked)

    async def on_partitions_assigned(self, assigned: Any, generation_id: int = 0) -> None:
        self.input_gate.rebalance()
        await super().on_partitions_assigned(assigned, generation_id)
        self.batches.forget_carried()

    async def seek_to_committed(self) -> Mapping[Any, int]:
        committed = await super().seek_to_committed()
        unmoved = never_committed(committed, self._is_changelog)
        if unmoved:
            await self._thread.seek_to_beginning(*unmoved)
        return committed

    async def perform_seek(self) -> None:
        inputs_paused = any(not self._is_changelog(tp) for tp in self._paused_partitions)
        await super().perform_seek()
        self.input_gate.sought(inputs_paused)

    def resume_flow(self) -> None:
        super().resume_flow()
        self.input_gate.flow_resumed()

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover
        # Faust 0.15's Consumer._drain_messages, with the input gate, `deliver` and the batches
        # (see the module docstring)
        callback = self.callback
        gate, is_changelog = self.input_gate, self._is_changelog
        batches, batched = self.batches, cast(Transport, self.transport).batched
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag, unset_flag = self.diag.set_flag, self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        suspend_flow, wait_first = self.suspend_flow, self.wait_first
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                ait = getmany(timeout=1.0)
                await self.sleep(0)
                if not self.should_stop:
                    # no "sleep(0) every 100 messages" as in Faust's: `deliver` yields per message
                    fetched_in = self.app.consumer_generation_id
                    async for tp, message in ait:
                        if not gate.is_open() and not is_changelog(tp):
                            generation = self.app.consumer_generation_id
                            await gate.wait()
                            if self.app.consumer_generation_id != generation:
                                break  # fetched before a rebalance: the new seek refetches it
                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                self.commit_beside()
                            carrier: Any = message
                            group = batched.get(message.topic)
                            if group is not None:
                                carrier = batches.add(group, message)
                            if carrier is not None:
                                await deliver(cast(Coroutine[Any, Any, Any], callback(carrier)),
                                              suspend_flow, wait_first)
                            set_read_offset(tp, offset)
                    if self.app.consumer_generation_id != fetched_in:
                        batches.drop_open()  # as above: fetched again after the seek
                    for carrier in batches.close_all():
                        await deliver(cast(Coroutine[Any, Any, Any], callback(carrier)),
                                      suspend_flow, wait_first)
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
            batches.drop_open()
            unset_flag(CONSUMER_FETCHING)


Transport.Consumer = Consumer
