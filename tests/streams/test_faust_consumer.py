"""`deliver`: a delivery that does not block runs inline; one that blocks is waited for exactly
as Faust's `wait_first` waits: until it completes, or until the flow is suspended.
`InputGate`: input waits, after an assignment, until the flow resumes after the recovery's seek."""

import asyncio
from pathlib import Path
from typing import Any

import pytest

from streams.app import WorkerOptions, faust_app
from streams.faust_consumer import (
    FETCH_MAX_WAIT_MS,
    Batches,
    Consumer,
    InputGate,
    Transport,
    deliver,
    never_committed,
)
from streams.producer import DeliveryFailed
from streams.settings import Settings


class WaitFirst:
    """Faust's `Service.wait_first` contract, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, *awaitables: Any) -> None:
        self.calls += 1
        tasks = [asyncio.ensure_future(a) for a in awaitables]
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            task.result()


async def _put(queue: asyncio.Queue[int], item: int, log: list[str]) -> int:
    await queue.put(item)
    log.append(f"put {item}")
    return item


def test_a_delivery_that_does_not_block_runs_inline() -> None:
    async def scenario() -> tuple[int, list[str]]:
        queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
        log: list[str] = []
        wait_first = WaitFirst()
        await deliver(_put(queue, 1, log), asyncio.Event(), wait_first)
        return wait_first.calls, log

    calls, log = asyncio.run(scenario())
    assert (calls, log) == (0, ["put 1"])


def test_a_blocked_delivery_completes_once_there_is_room() -> None:
    async def scenario() -> tuple[int, list[str], int]:
        queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
        queue.put_nowait(0)
        log: list[str] = []
        wait_first = WaitFirst()
        asyncio.get_running_loop().call_later(0.01, queue.get_nowait)
        await deliver(_put(queue, 1, log), asyncio.Event(), wait_first)
        return wait_first.calls, log, queue.get_nowait()

    assert asyncio.run(scenario()) == (1, ["put 1"], 1)


def test_a_blocked_delivery_gives_way_when_the_flow_is_suspended() -> None:
    async def scenario() -> tuple[list[str], int]:
        queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
        queue.put_nowait(0)
        log: list[str] = []
        suspend = asyncio.Event()
        asyncio.get_running_loop().call_later(0.01, suspend.set)
        await deliver(_put(queue, 1, log), suspend, WaitFirst())
        return log, queue.qsize()

    assert asyncio.run(scenario()) == ([], 1)  # interrupted, nothing put


def test_errors_of_the_delivery_propagate_inline_and_after_blocking() -> None:
    async def fails_now() -> None:
        raise KeyError("now")

    async def fails_later() -> None:
        await asyncio.sleep(0.001)
        raise KeyError("later")

    async def scenario(delivery: Any) -> None:
        await deliver(delivery, asyncio.Event(), WaitFirst())

    for delivery in (fails_now, fails_later):
        with pytest.raises(KeyError):
            asyncio.run(scenario(delivery()))


def test_values_sent_into_a_resumed_delivery_reach_it() -> None:
    async def two_steps(log: list[str]) -> None:
        await asyncio.sleep(0)  # a bare yield
        value = await asyncio.sleep(0.001, result="slept")
        log.append(value)

    async def scenario() -> list[str]:
        log: list[str] = []
        await deliver(two_steps(log), asyncio.Event(), WaitFirst())
        return log

    assert asyncio.run(scenario()) == ["slept"]


def test_other_tasks_run_between_two_inline_deliveries() -> None:
    """Faust's loop gives every message its own turn: a rebalance's callbacks come between."""

    async def scenario() -> list[str]:
        queue: asyncio.Queue[int] = asyncio.Queue()
        log: list[str] = []
        asyncio.get_running_loop().call_soon(log.append, "rebalance callback")
        await deliver(_put(queue, 1, log), asyncio.Event(), WaitFirst())
        await deliver(_put(queue, 2, log), asyncio.Event(), WaitFirst())
        return log

    assert asyncio.run(scenario()) == ["put 1", "rebalance callback", "put 2"]


# --- the input gate: Faust's recovery order after an assignment (faust/tables/recovery.py) --


def _apply(gate: InputGate, step: str) -> None:
    if step == "rebalance":
        gate.rebalance()
    elif step == "flow resumed":
        gate.flow_resumed()
    else:
        gate.sought(inputs_paused=step == "seek, inputs paused")


def _gate_after(*steps: str) -> bool:
    gate = InputGate()
    for step in steps:
        _apply(gate, step)
    return gate.is_open()


RECOVERY = ("rebalance", "flow resumed",  # the changelogs are read, the inputs still paused
            "seek, inputs resumed", "flow resumed")  # the buffers are emptied, then resumed


def test_input_is_held_until_the_flow_resumes_after_the_seek() -> None:
    assert not _gate_after()
    for step in range(1, len(RECOVERY)):
        assert not _gate_after(*RECOVERY[:step]), RECOVERY[:step]
    assert _gate_after(*RECOVERY)


def test_a_seek_while_the_inputs_are_paused_does_not_open_it() -> None:
    # Faust's getmany seeks when called with the flow stopped, mid-rebalance
    assert not _gate_after("rebalance", "seek, inputs paused", "flow resumed")


def test_a_rebalance_closes_it_until_its_own_seek() -> None:
    assert not _gate_after(*RECOVERY, "rebalance", "flow resumed")
    assert _gate_after(*RECOVERY, *RECOVERY)


def test_a_waiting_message_goes_once_the_gate_opens() -> None:
    async def scenario() -> list[str]:
        gate, log = InputGate(), []

        async def drain() -> None:
            await gate.wait()
            log.append("delivered")

        task = asyncio.ensure_future(drain())
        for step in RECOVERY[:-1]:
            _apply(gate, step)
            await asyncio.sleep(0)
            log.append(f"after {step}")
        gate.flow_resumed()
        await task
        return log

    assert asyncio.run(scenario())[-2:] == ["after seek, inputs resumed", "delivered"]


class _Thread:
    """The consumer thread's two seeks, as aiokafka does them: no move without a commit."""

    def __init__(self, committed: dict[str, int | None]) -> None:
        self.committed = committed
        self.to_beginning: list[str] = []

    async def seek_to_committed(self) -> dict[str, int | None]:
        return self.committed

    async def seek_to_beginning(self, *partitions: str) -> None:
        self.to_beginning.extend(partitions)


def test_the_seek_rewinds_input_partitions_nothing_was_committed_on() -> None:
    committed = {"calls-0": 12, "calls-1": None, "units-0": 0, "incidents-changelog-0": None}
    consumer = Consumer.__new__(Consumer)  # only the seek: no Faust service behind it
    consumer._thread = _Thread(committed)  # type: ignore[assignment]
    consumer._is_changelog = lambda tp: "changelog" in tp  # type: ignore[method-assign]
    assert asyncio.run(consumer.seek_to_committed()) == committed
    assert consumer._thread.to_beginning == ["calls-1", "units-0"]  # type: ignore[attr-defined]


def test_never_committed_leaves_changelogs_and_committed_partitions() -> None:
    assert never_committed({"a": 5, "b": None, "c": 0, "log": None}, lambda tp: tp == "log") == [
        "b", "c"]


# --- batches: the messages of one fetch reach their agent carried by the last of them -------


def test_a_fetch_becomes_one_batch_per_agent_in_the_order_read() -> None:
    batches = Batches(limit=10)
    for group, message in [("units", "gps0-a"), ("incidents", "calls1-a"), ("units", "gps1-a"),
                           ("units", "gps0-b"), ("incidents", "feed2-a")]:
        assert batches.add(group, message) is None
    carriers = batches.close_all()
    assert carriers == ["gps0-b", "feed2-a"]
    assert batches.take("gps0-b") == ["gps0-a", "gps1-a", "gps0-b"]
    assert batches.take("feed2-a") == ["calls1-a", "feed2-a"]
    assert batches.take("gps0-b") == ["gps0-b"], "a batch is handed over once"
    assert batches.close_all() == []


def test_a_full_batch_goes_at_once_and_the_rest_starts_a_new_one() -> None:
    batches = Batches(limit=2)
    assert batches.add("units", "m0") is None
    assert batches.add("units", "m1") == "m1"
    assert batches.add("units", "m2") is None
    assert batches.close_all() == ["m2"]
    assert (batches.take("m1"), batches.take("m2")) == (["m0", "m1"], ["m2"])


def test_a_message_of_a_topic_not_batched_is_its_own_batch() -> None:
    assert Batches().take("tick") == ["tick"]


def test_a_rebalance_drops_what_was_gathered_and_what_was_carried() -> None:
    batches = Batches(limit=10)
    batches.add("units", "m0")
    carrier = batches.close_all()[0]
    batches.add("units", "m1")
    batches.drop_open()  # fetched before the rebalance: the seek fetches it again
    batches.forget_carried()  # the stream buffers were emptied: the carrier never comes
    assert batches.close_all() == []
    assert batches.take(carrier) == [carrier]


class _FailedSends:
    failure = DeliveryFailed("KafkaTimeoutError: gave up")


def test_no_offset_is_committed_after_a_send_failed() -> None:
    crashed: list[BaseException] = []

    async def crash(reason: BaseException) -> None:
        crashed.append(reason)

    consumer = Consumer.__new__(Consumer)  # only the commit: no Faust service behind it
    consumer.transport = Transport.__new__(Transport)
    consumer.transport._sends = _FailedSends()  # type: ignore[assignment]
    consumer.crash = crash  # type: ignore[method-assign]
    assert asyncio.run(consumer._commit({"calls-0": 5})) is False
    assert crashed == [_FailedSends.failure]


def test_the_worker_fetches_wait_at_most_fetch_max_wait_ms(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    """Faust asks aiokafka for 1.5 s; a partition left out of the fetch in flight waits as
    long as it does (module docstring, 5.)."""
    app = faust_app(kafka_settings, WorkerOptions(datadir=tmp_path))

    async def fetcher_wait_ms() -> int:
        worker_consumer = app.consumer
        assert isinstance(worker_consumer, Consumer)
        consumer = worker_consumer._thread._create_consumer(asyncio.get_running_loop())
        await consumer.start()
        try:
            return int(consumer._fetcher._fetch_max_wait_ms)
        finally:
            await consumer.stop()

    assert asyncio.run(fetcher_wait_ms()) == FETCH_MAX_WAIT_MS < 1500


def test_a_commit_due_by_count_runs_beside_the_fetch_loop_one_at_a_time() -> None:
    """Module docstring, 6.: the fetch loop starts it and goes on; while it runs (its producer
    flush waits on the broker), a second one due is not started."""

    async def scenario() -> list[str]:
        log: list[str] = []
        flushed = asyncio.Event()

        async def commit() -> bool:
            log.append("commit started")
            await flushed.wait()
            log.append("commit done")
            return True

        consumer = Consumer.__new__(Consumer)  # only the commit: no Faust service behind it
        consumer.commit = commit  # type: ignore[assignment,method-assign]
        consumer.add_future = asyncio.ensure_future  # type: ignore[assignment,method-assign]
        consumer.commit_beside()
        log.append("fetch loop goes on")
        await asyncio.sleep(0)
        consumer.commit_beside()  # due again while the first one waits on its flush
        await asyncio.sleep(0)
        flushed.set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        consumer.commit_beside()  # due once the first one is done
        await asyncio.sleep(0)
        return log

    assert asyncio.run(scenario()) == [
        "fetch loop goes on", "commit started", "commit done", "commit started", "commit done"]
