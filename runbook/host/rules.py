"""The host kind's finding rules (`runbook explain ID`): disk, memory, load. Ids are stable: add, never rename."""

from __future__ import annotations

from runbook.kind import Rule, named_by

RULES = named_by((
    # ---- host
    Rule("host.disk.full", "critical", "The filesystem is nearly full",
         "Writes fail when the disk is full: logs stop, databases refuse writes, snapshots fail half-way.",
         "Find what grew (du -xh --max-depth=2 PATH | sort -h), remove or rotate it, and add space before it fills again."),
    Rule("host.memory.low", "critical", "The host is running out of memory",
         "Below a tenth of memory available the page cache is gone, every process slows down, and the kernel's "
         "OOM killer is next: it kills the largest process, often the database or the JVM.",
         "Find what grew (the largest processes in the evidence); stop or restart the one that leaks, or move "
         "work off the host. A fork now (a Redis save, a heap dump) needs memory there is not."),
    Rule("host.memory.swapping", "warning", "The host is swapping",
         "Pages are going to or coming from swap, or tasks wait for memory: every process that touches a "
         "swapped page stalls for milliseconds. Databases and JVMs (a GC touches the whole heap) suffer most.",
         "Find the largest processes and what grew; free memory, or lower vm.swappiness; do not start jobs that "
         "fork or allocate (saves, dumps, deploys) until it stops."),
    Rule("host.load.high", "warning", "Load average is above the number of CPUs",
         "Runnable work is queueing for CPU; latency rises for everything on the host.",
         "Find the busiest processes (top -o %CPU) before changing anything."),
), {
    "host.disk.full": ("probe host.disk",),
    "host.memory.": ("probe host.memory",),
    "host.load.high": ("probe host.basic",),
})
