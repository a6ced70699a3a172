"""What an action meant for a remote host says before anything runs: where it runs, and where what it
writes is kept (no sshd needed: describe reaches nothing)."""

from __future__ import annotations


def test_an_action_over_ssh_names_the_host_it_runs_on() -> None:
    from runbook.jvm import threads
    from runbook.jvm.live import HeapDump
    from runbook.redis.actions import Restart
    from runbook.targets import Target

    redis_t = Target("m", "redis://10.0.0.5:6379", "redis", restart_command=("redis-server", "/etc/redis.conf"), ssh="db1")
    assert "redis-server /etc/redis.conf on db1 over ssh" in Restart.describe(redis_t, {})
    jvm_t = Target("app", "pid:1", "jvm", ssh="app1")
    assert HeapDump.describe(jvm_t, {"path": "/data/h.hprof"}) == "jcmd 1 GC.heap_dump /data/h.hprof on app1 over ssh"
    said = threads.SaveThreadDumps.describe(jvm_t, {"path": "/tmp/x"})
    assert "Thread.print on app1 over ssh" in said and "into /tmp/x on this machine" in said
    here = threads.SaveThreadDumps.describe(Target("app", "pid:1", "jvm"), {"path": "/tmp/x"})
    assert "over ssh" not in here and "on this machine" not in here
