"""What is meant for a remote host is refused rather than done on this machine in its place (no sshd
needed: nothing is reached)."""

from __future__ import annotations

import pytest


def test_nothing_meant_for_a_remote_host_runs_or_reads_here(tmp_path) -> None:
    """Saving thread dumps to a file of a JVM reached over ssh is refused, never done on this machine in its
    place (a path means something else here). A restart over ssh says where it starts the server."""
    from runbook.jvm import threads
    from runbook.redis.actions import Restart
    from runbook.targets import Target

    redis_t = Target("m", "redis://10.0.0.5:6379", "redis", restart_command=("redis-server", "/etc/redis.conf"), ssh="db1")
    assert "redis-server /etc/redis.conf on db1 over ssh" in Restart.describe(redis_t, {})
    jvm_t = Target("app", "pid:1", "jvm", ssh="app1")
    with pytest.raises(ValueError, match="not read here in its place"):
        threads.SaveThreadDumps.describe(jvm_t, {"path": "/tmp/x"})
