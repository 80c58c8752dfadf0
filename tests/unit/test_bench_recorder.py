"""The load test's recorder fails a run that timed something other than what it claims."""

from __future__ import annotations

from bench.load import Recorder


def test_an_approval_request_instead_of_a_write_fails_the_run_even_in_warm_up() -> None:
    recorder = Recorder()

    recorder.record("transfer", 0.01, 202, b'{"approval": "A1"}')

    assert list(recorder.server_errors) == ["transfer 202: an approval request, not a write"]


def test_a_write_is_timed_and_a_refusal_is_counted_apart() -> None:
    recorder = Recorder(measuring=True)

    recorder.record("transfer", 0.01, 201, b"{}")
    recorder.record("transfer", 0.02, 422, b"refused")

    assert recorder.latencies["transfer"] == [0.01]
    assert sum(recorder.errors.values()) == 1
    assert not recorder.server_errors
