"""The JVM kind's finding rules (`runbook explain ID`): GC log analysis (gc.*) and the live JVM (jvm.*).
Ids are stable: add, never rename."""

from __future__ import annotations

from runbook.kind import Rule, named_by

RULES = named_by((
    # ---- gc
    Rule("gc.explicit", "warning", "Explicit GCs (System.gc()) were requested",
         "System.gc() triggers a full, stop-the-world collection in most collectors, whatever the heap needs.",
         "Find the caller (RMI's distributed GC, a library, NIO direct buffers); add -XX:+DisableExplicitGC or "
         "-XX:+ExplicitGCInvokesConcurrent (CMS, G1)."),
    Rule("gc.full", "warning", "Full GCs happened",
         "A full GC stops every application thread for the whole heap; repeated full GCs mean the old generation "
         "cannot keep up.",
         "Look at heap after full GC: if it stays high the heap is too small or leaks; otherwise tune the "
         "collector so old collections finish in time.",
         otherwise=("critical", "at least 5 full GCs come less than 60 s apart on average")),
    Rule("gc.cms.concurrent_mode_failure", "critical", "CMS concurrent mode failures",
         "The old generation filled before the concurrent cycle finished; CMS fell back to a long single-threaded "
         "full collection.",
         "Start cycles earlier (-XX:CMSInitiatingOccupancyFraction with -XX:+UseCMSInitiatingOccupancyOnly), "
         "enlarge the old generation, or move to G1."),
    Rule("gc.promotion_failed", "critical", "Promotion failed",
         "Surviving young objects could not be copied into the old generation (full or fragmented); the pause "
         "that follows is long.",
         "Enlarge the old generation, reduce promotion (bigger survivor spaces), or move to G1."),
    Rule("gc.g1.evacuation_failure", "critical", "G1 evacuation failure (to-space exhausted)",
         "G1 ran out of free regions while copying live objects; the pause is long and often followed by a full GC.",
         "Enlarge the heap, lower -XX:InitiatingHeapOccupancyPercent, or raise -XX:G1ReservePercent."),
    Rule("gc.g1.humongous", "warning", "G1 humongous allocations",
         "Objects of half a region or more go straight to the old generation in contiguous regions; they "
         "fragment the heap and trigger extra cycles.",
         "Raise -XX:G1HeapRegionSize so these objects are no longer humongous, or allocate smaller arrays."),
    Rule("gc.metaspace", "critical", "GCs caused by Metaspace or PermGen exhaustion",
         "Class metadata space is full: a full GC is forced to unload classes, and an OutOfMemoryError follows "
         "when nothing can be freed.",
         "Raise -XX:MaxMetaspaceSize (or MaxPermSize) and look for class loader leaks (redeploys, dynamic proxies)."),
    Rule("gc.pause.long", "warning", "Long stop-the-world pauses",
         "Application threads were stopped longer than the threshold: requests time out and clients retry.",
         "Look at which kind of pause is long; tune that phase, the heap size, or use a low-pause collector.",
         otherwise=("critical", "the longest pause is 5 times the threshold or more")),
    Rule("gc.throughput.low", "warning", "The application spends too much time in GC",
         "Throughput is the share of wall time outside stop-the-world pauses; below 95% GC is a bottleneck.",
         "Enlarge the heap or young generation, or reduce the allocation rate.",
         otherwise=("critical", "throughput is below 80%")),
    Rule("gc.heap.leak", "critical", "Heap after GC keeps rising",
         "The live set grows steadily: something retains objects, and the JVM will end in full GCs and OutOfMemoryError.",
         "Take a heap dump (jcmd PID GC.heap_dump) or class histograms a few minutes apart and compare them."),
    Rule("gc.heap.exhausted", "critical", "The JVM is at or near OutOfMemoryError: full GCs free almost nothing",
         "Back-to-back full collections leave the heap as full as they found it: the live set does not fit the "
         "maximum heap. Every allocation now waits for a full GC, and the JVM dies of OutOfMemoryError or crawls. "
         "Tuning the collector (IHOP, threads, region size) cannot help.",
         "Size the heap for the live set (-Xmx, and the host's memory), or find what holds it: a heap dump or "
         "class histograms (jcmd PID GC.class_histogram) taken a few minutes apart."),
    Rule("gc.pause.not_cpu", "warning", "Pauses took far longer than the CPU the GC used: not GC work",
         "Real time more than twice user+sys means the GC threads were waiting, not collecting: the host was "
         "swapping, the container's CPU quota throttled it, or noisy neighbours took the CPU. A bigger heap makes "
         "swapping worse.",
         "Check swap (vmstat si/so, free), the cgroup's cpu.stat throttling and the host's steal time; give the "
         "JVM memory that is not swapped (or -XX:+AlwaysPreTouch with enough RAM) and CPU it is not throttled on."),
    Rule("gc.heap.too_small", "critical", "The heap is too small for the live set",
         "Heap after full GC stays close to the maximum: each collection frees little and runs again soon.",
         "Raise -Xmx (and check the host has the memory), or reduce what the application keeps."),
    Rule("gc.premature_promotion", "warning", "Objects are promoted before they die",
         "Young collections copy short-lived objects into the old generation, which then fills and needs old "
         "collections.",
         "Enlarge the young generation or survivor spaces; raise -XX:MaxTenuringThreshold."),
    Rule("gc.sys_time_high", "warning", "GC spends more time in the kernel than in user space",
         "sys > user during GC means the OS is the bottleneck: swapping, transparent huge pages, or page faults.",
         "Check swap (vmstat), disable transparent huge pages, and pre-touch the heap (-XX:+AlwaysPreTouch)."),
    Rule("gc.safepoint.long", "warning", "Threads were stopped far longer than GC needed",
         "Time to reach a safepoint or non-GC safepoints (deoptimisation, biased locking revocation, thread "
         "dumps) stop the application too.",
         "Enable -Xlog:safepoint and look for long time-to-safepoint (counted loops) or frequent VM operations."),
    Rule("gc.zgc.allocation_stall", "critical", "ZGC allocation stalls",
         "Threads had to wait for memory because ZGC could not reclaim fast enough: latency spikes.",
         "Enlarge the heap, give ZGC more concurrent threads (-XX:ConcGCThreads), or reduce the allocation rate."),
    Rule("gc.shenandoah.degenerated", "warning", "Shenandoah degenerated GCs",
         "The concurrent cycle could not keep up and finished in a stop-the-world pause.",
         "Enlarge the heap, start cycles earlier, or reduce the allocation rate."),
    Rule("gc.log.overwritten_on_restart", "warning", "The GC log will be overwritten when the JVM restarts",
         "A GC log file name without %t or %p and without rotation is truncated at start: the evidence of this "
         "incident is gone after a restart.",
         "Copy the log now; use -Xlog:gc*:file=gc-%t.log:time,uptime,level,tags:filecount=10,filesize=50m."),
    Rule("gc.log.unparsed", "info", "Some lines of the log could not be read",
         "They are counted and sampled; the statistics ignore them.", "Check the samples; report a format we miss."),
    Rule("jvm.unreachable", "critical", "The JVM could not be read",
         "Nothing can be checked, so every guard on this JVM blocks.",
         "Check the PID or URL and that the process is alive."),
    Rule("jvm.deadlock", "critical", "The JVM reports a Java-level deadlock",
         "Threads wait on each other's locks forever: the requests they serve never finish and a restart is the "
         "only way out for them.",
         "Keep the thread dump (it names the threads and locks), then restart; fix the lock order in the code."),
    Rule("jvm.threads.hot", "warning", "A thread of the JVM is using a whole CPU",
         "One thread at or near 100% of a core is a busy loop, a runaway regex or parse, or a thread spinning on "
         "a lock; when it is a GC thread the heap is the problem, when it is a JIT compiler thread it is "
         "compilation. Its top frames say which code.",
         "Read the top frames (take two thread dumps a few seconds apart: the same frames mean the same loop). "
         "Keep the dumps before any restart; fix the code path, or rate-limit what drives it."),
    Rule("jvm.heap.exhausted", "critical", "The live JVM is out of heap: full GCs run and free nothing",
         "The old generation is full right after full collections and more keep coming: every allocation waits "
         "for a full GC, requests crawl, and OutOfMemoryError follows.",
         "Keep the evidence first (a class histogram, or a heap dump if the disk has room), then restart with a "
         "larger -Xmx if the host has the memory, and find what holds the heap."),
    Rule("jvm.metaspace.high", "warning", "Metaspace is close to MaxMetaspaceSize",
         "Class metadata fills Metaspace; at the limit the JVM runs full GCs to unload classes and then throws "
         "OutOfMemoryError: Metaspace. Growth without end is a class loader leak (redeploys, generated proxies).",
         "Raise -XX:MaxMetaspaceSize if the growth has stopped; otherwise find the loader that leaks (jcmd PID "
         "VM.classloader_stats, two a few minutes apart)."),
    Rule("jvm.codecache.full", "warning", "The JIT code cache is (nearly) full",
         "When the code cache fills the JIT compiler stops: new hot code runs interpreted, ten times slower or "
         "worse, and the JVM says \"CodeCache is full. Compiler has been disabled\".",
         "Raise -XX:ReservedCodeCacheSize (240m is the usual default with tiered compilation) and restart.",
         otherwise=("critical", "the JVM has already disabled compilation")),
    Rule("jvm.container.memory_limit", "critical", "The JVM can outgrow its container's memory limit",
         "The heap's maximum plus what lives outside the heap (metaspace, code cache, thread stacks, direct "
         "buffers) reaches the cgroup's limit: the kernel's OOM killer ends the JVM with SIGKILL, with no "
         "OutOfMemoryError and no heap dump.",
         "Size -Xmx (or -XX:MaxRAMPercentage) to leave a quarter of the limit outside the heap, or raise the "
         "container's limit; keep -XX:+UseContainerSupport (the default) so the JVM sees the limit."),
    Rule("jvm.heap_dump.disabled", "info", "No heap dump is written on OutOfMemoryError",
         "When the JVM dies of OOM the evidence is gone.",
         "Add -XX:+HeapDumpOnOutOfMemoryError -XX:HeapDumpPath=DIR with room for a dump the size of the heap."),
), {
    "gc.": ("gc analyze", "probe jvm.gc_log"),
    "gc.heap.too_small": ("gc analyze", "jvm check", "probe jvm.gc_log"),
    "gc.log.overwritten_on_restart": ("jvm check",),
    "jvm.": ("jvm check",),
    "jvm.heap.exhausted": ("probe jvm.memory (two samples seconds apart)",),
    "jvm.metaspace.high": ("probe jvm.memory",),
    "jvm.codecache.full": ("probe jvm.memory",),
    "jvm.container.memory_limit": ("probe jvm.memory",),
})
