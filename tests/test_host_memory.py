"""host.memory on this machine: real /proc facts; the low-memory finding at a threshold this host is under,
and no swapping finding on a host that is not swapping."""

from __future__ import annotations

from runbook.host.probes import assess_memory, memory
from runbook.targets import Target

HOST = Target("host", "local", "host")


def test_memory_facts_and_the_low_memory_threshold() -> None:
    facts = memory(HOST, {"interval_s": 0.2}, 5)
    assert 0 < facts["mem_available_bytes"] <= facts["mem_total_bytes"]
    assert facts["top_rss"] and facts["top_rss"][0]["rss_bytes"] >= facts["top_rss"][-1]["rss_bytes"]
    ids = {f.id for f in assess_memory(facts)}
    assert "host.memory.low" not in ids  # a test machine with free memory
    facts = memory(HOST, {"interval_s": 0.2, "low_pct": 100}, 5)  # everything is "low" against 100%
    (low,) = [f for f in assess_memory(facts) if f.id == "host.memory.low"]
    assert low.evidence["threshold_pct"] == 100 and low.evidence["largest_processes"]


def test_swapping_is_named_from_the_swap_rate_or_memory_pressure() -> None:
    facts = memory(HOST, {"interval_s": 0.2}, 5)
    quiet = {**facts, "swap_in_per_s": 0, "swap_out_per_s": 0, "pressure": {"full_avg10_pct": 0.0}}
    assert "host.memory.swapping" not in {f.id for f in assess_memory(quiet)}
    busy = {**quiet, "swap_in_per_s": 4 * 1024 * 1024}
    (f,) = [f for f in assess_memory(busy) if f.id == "host.memory.swapping"]
    assert f.evidence["swap_in_per_s"] == "4.0 MiB"
