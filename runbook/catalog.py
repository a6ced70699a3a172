"""The finding catalogue: every finding id with its default severity, title, why and what to do.

Documented like a linter's rules (`runbook explain ID`). Ids are stable: add, never rename.
Ground floor: imports only findings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runbook.findings import Finding


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str
    why: str
    action: str
    example: str = ""
    # The one other severity a finding of this rule can have, and when: ("critical", "a pause is 5x the
    # threshold"). Code asks for it with make(..., escalated=True); nothing else changes a severity.
    otherwise: tuple[str, str] = ("", "")

    @property
    def severity_text(self) -> str:
        """How the page states it: "warning; critical when ..." """
        sev, when = self.otherwise
        return f"{self.severity}; {sev} when {when}" if sev else self.severity


_RULES = [
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
    # ---- redis: restart preview
    Rule("redis.restart.aof_missing", "critical", "A restart would start EMPTY: appendonly yes but no AOF to load",
         "Redis with appendonly yes loads only the AOF; when there is none it starts with no keys, and its next save "
         "overwrites the good RDB with an empty one. This is how Twilio lost every balance in July 2013.",
         "Do not restart. On the running server: CONFIG SET appendonly yes, wait until aof_rewrite_in_progress:0 and "
         "the AOF files exist, then CONFIG REWRITE. Or set appendonly no in the file the restart reads.",
         "config file says appendonly yes; dir holds dump.rdb (1,000 keys) and no appendonlydir"),
    Rule("redis.restart.aof_damaged", "critical", "A restart would fail or lose data: the AOF on disk is damaged",
         "A missing or truncated base file or an empty manifest stops Redis at start; a missing manifest makes it "
         "start empty; a truncated incr file is cut and the tail is lost.",
         "Do not restart. Copy the AOF directory aside, run redis-check-aof on the manifest, and rebuild the AOF from "
         "the running server (BGREWRITEAOF) before any restart."),
    Rule("redis.restart.config_drift", "warning", "The running config differs from the file a restart reads",
         "CONFIG SET without CONFIG REWRITE leaves the file stale: a restart silently reverts these settings "
         "(memory limits, persistence, replication).",
         "Review the differences; run CONFIG REWRITE if the running values are right, or fix the file."),
    Rule("redis.restart.no_config_file", "warning", "The server was started without a config file",
         "A restart by hand has no file to read: every CONFIG SET made since start is lost and defaults come back "
         "(dir, persistence, replication, passwords).",
         "Write the running config to a file (the config command cannot rewrite without one): record CONFIG GET * "
         "and create a file, then restart with it."),
    Rule("redis.restart.replicaof_self", "critical", "This server is (or after a restart would be) a replica of itself",
         "A server replicating from its own address never syncs, stays read-only (writes fail with READONLY) and "
         "reports master_link_status:down. Twilio's master came back this way.",
         "Remove the replicaof line from the config file a restart reads; on a live server, REPLICAOF NO ONE."),
    Rule("redis.restart.snapshot_stale", "warning", "The data a restart would load is old or not the live dataset",
         "A restart loads what is on disk: changes since the last successful save are lost, and a file with far "
         "fewer keys than the server holds means most data is gone after the restart.",
         "Make a fresh save succeed (check dir, disk and permissions) before restarting."),
    Rule("redis.restart.would_fail", "critical", "A restart would not come up",
         "A copy of the restart (same binary, file, options and working directory) was refused by redis-server, "
         "or the files it would load are refused by redis-check-rdb/redis-check-aof, or it cannot listen where "
         "the file says: the server would stay down after a restart.",
         "Fix what the evidence names (it has redis-server's own words) before restarting."),
    Rule("redis.restart.becomes_replica", "critical", "After a restart this master would become a replica",
         "The file a restart reads has a replicaof line: the restarted server syncs from that address, replaces "
         "every key it holds with the peer's data, and refuses writes.",
         "Remove or fix the replicaof line (CONFIG REWRITE writes the running role) before restarting.",
         otherwise=("warning", "the server is a replica already (a master would lose its data)")),
    Rule("redis.restart.data_loss", "critical", "A restart would come up with fewer keys than the server holds",
         "The stop and the start were simulated: what the stop writes (by shutdown mode) and what the start loads "
         "(the file's dir, dbfilename and appendonly) leave fewer keys than are live. The evidence says why: no "
         "persistence, a stale AOF, an older snapshot, a data dir that moved, or a memory limit that evicts.",
         "Do not restart this way. Make the start read the live data first: a SHUTDOWN SAVE where the start reads, "
         "or CONFIG SET of the setting named in the evidence and CONFIG REWRITE; then check again."),
    Rule("redis.restart.moves", "critical", "After a restart the server would listen somewhere else",
         "The file a restart reads has another port, bind address or unix socket than the running server: "
         "clients and replicas would not find it.",
         "Make the file's port, bind and unixsocket match the running server (CONFIG REWRITE) before restarting."),
    Rule("redis.restart.auth_changes", "critical", "After a restart clients would be locked out",
         "The password or users in the file a restart reads differ from the running ones (compared by digest, "
         "never shown): clients that connect now would be refused, or the server would be open.",
         "CONFIG REWRITE (or fix requirepass and the user lines) so the file matches the running server."),
    Rule("redis.restart.read_only", "critical", "After a restart the server would refuse writes",
         "A copy of the restarted server refused a write: memory limit below the dataset (OOM), "
         "min-replicas-to-write, or a save error. The application would see errors on every write.",
         "Fix the setting named in the evidence in the file the restart reads (maxmemory, min-replicas-to-write) "
         "before restarting."),
    Rule("redis.restart.unproven", "critical", "The restart could not be proven safe",
         "The restart simulation could not check everything a restart depends on: a guard passes only what it "
         "has proven, so it blocks and names what is missing.",
         "Provide what the evidence asks for (a restart command or unit in the inventory, access to the files, "
         "consent to load modules, a higher --load-limit), or check it by hand and break the glass."),
    Rule("redis.memory.maxmemory_reached", "critical", "Redis is at its memory limit",
         "At maxmemory Redis refuses writes with OOM under noeviction, evicts keys under an LRU/LFU/random "
         "policy (data the application may still need), and under a volatile-* policy with few keys that have a "
         "TTL it has nothing it may evict, so writes fail as with noeviction.",
         "Find what grew (INFO keyspace, MEMORY STATS, the biggest keys from a replica or a snapshot), then raise "
         "maxmemory if the host has the RAM (CONFIG SET maxmemory, CONFIG REWRITE), or change the policy."),
    Rule("redis.memory.no_limit", "warning", "No memory limit, and the dataset is over half the host's memory",
         "Without maxmemory the kernel's OOM killer decides when memory runs out: it kills the process, and a fork "
         "for a save or a full sync needs more memory still.",
         "Set maxmemory below the host's memory, leaving room for the fork (CONFIG SET maxmemory, CONFIG REWRITE)."),
    Rule("redis.memory.fragmentation", "warning", "Redis holds far more memory than its data needs (fragmentation)",
         "The process's resident memory is much larger than what Redis allocated: freed memory the allocator cannot "
         "give back. It counts against the host and maxmemory headroom, and grows after big deletes or expiries.",
         "CONFIG SET activedefrag yes (jemalloc builds) and watch allocator_frag_ratio fall; a restart or a failover "
         "to a replica that loaded fresh also clears it. MEMORY DOCTOR explains the numbers."),
    Rule("redis.memory.swapping", "critical", "Part of Redis is swapped out",
         "Redis reads memory on every command; a swapped page turns a microsecond into milliseconds, and a fork "
         "for a save touches every page. Latency spikes for all clients.",
         "Free memory on the host or lower maxmemory; set vm.swappiness low; check what else grew on the host "
         "(the host-memory playbook). Do not fork (BGSAVE, BGREWRITEAOF) while it swaps."),
    Rule("redis.clients.rejected", "warning", "Connections were refused at maxclients",
         "At maxclients Redis closes new connections with \"max number of clients reached\": the application "
         "sees errors or piles up retries, which makes it worse.",
         "Find the busiest client addresses (CLIENT LIST, the redis-clients playbook): a connection leak or a pool "
         "grown too big. Raise maxclients only if the host's file descriptor limit allows it.",
         otherwise=("critical", "the server is at maxclients now")),
    Rule("redis.clients.output_buffer_disconnects", "warning", "Clients were dropped for their output buffers",
         "A pub/sub subscriber or a client reading a huge reply fell behind: its output buffer passed "
         "client-output-buffer-limit and Redis closed it. The client reconnects and misses messages, and the "
         "buffers use memory until the cut.",
         "Find the slow consumers (CLIENT LIST: omem, cmd, addr) and make them read faster; raise the pubsub or "
         "normal limit only with memory to spare."),
    Rule("redis.persistence.aof_fsync_slow", "warning", "The disk is too slow for the AOF's fsync",
         "With appendfsync everysec Redis waits for a pending fsync for up to 2 s and then writes anyway "
         "(aof_delayed_fsync counts those): each one is a stall for every client, and a crash loses more than "
         "one second of writes.",
         "Look at the disk's latency (iostat -x) and what else writes to it (a BGSAVE or rewrite at the same "
         "time); move the AOF to a faster disk, or set no-appendfsync-on-rewrite yes while rewrites run."),
    Rule("redis.persistence.save_slow", "warning", "A background save or AOF rewrite has been running a long time",
         "A long BGSAVE or rewrite keeps a forked child alive: copy-on-write grows memory with every write, "
         "replicas waiting for a full sync wait with it, and the next save cannot start.",
         "Watch current_cow_size and the host's free memory; check the disk's write speed; do not start "
         "another fork (BGSAVE, BGREWRITEAOF, a replica's full sync) until it ends."),
    Rule("redis.latency.slow_commands", "warning", "Slow commands ran recently (SLOWLOG)",
         "Redis runs one command at a time: a command that takes 50 ms makes every other client wait 50 ms. "
         "KEYS, SMEMBERS or HGETALL of a big key, a long Lua script, SORT and DEL of a huge key are the usual ones.",
         "Find the caller of the slowest command (its client address) and replace it: SCAN instead of KEYS, "
         "UNLINK instead of DEL, smaller keys or paging. SLOWLOG GET shows the arguments on the server itself."),
    Rule("redis.latency.fork", "warning", "Forking for a save stops Redis for too long",
         "BGSAVE, AOF rewrites and full syncs fork: the fork copies the page tables and the whole server waits. "
         "It grows with the dataset (about 10-20 ms per GB on bare metal, far more on some VMs, or with "
         "transparent huge pages).",
         "Save less often or from a replica, keep the dataset smaller per instance, disable transparent huge "
         "pages, and prefer hosts where fork is fast (Redis's latency doc lists them)."),
    Rule("redis.sentinel.master_down", "critical", "Sentinel sees the master as down",
         "The Sentinels agree the master is down (o_down): they fail over to a replica if one can take over, and "
         "clients that ask Sentinel for the master are sent there. A replica promoted by hand now races them.",
         "Do not REPLICAOF or promote by hand while Sentinel manages this master: check SENTINEL CKQUORUM, which "
         "replicas are in sync, and let Sentinel fail over (or SENTINEL FAILOVER with a guard).",
         otherwise=("warning", "only this Sentinel sees it down (s_down): no quorum agrees yet")),
    Rule("redis.sentinel.no_quorum", "critical", "Sentinel cannot reach a quorum for this master",
         "SENTINEL CKQUORUM failed: too few Sentinels are reachable to agree that the master is down or to "
         "authorise a failover. When the master fails, nothing takes over.",
         "Bring the missing Sentinels back (they run beside the clients or the servers), check they can reach "
         "each other, or lower the quorum with care."),
    Rule("redis.sentinel.failover_in_progress", "warning", "Sentinel is failing over this master",
         "A failover is under way: the master's address changes, replicas are reconfigured and writes may fail "
         "for a few seconds. Acting by hand now fights it.",
         "Wait for it to finish (SENTINEL MASTER shows the new address); if it loops, read the Sentinel logs "
         "(+failover-abort-*) before acting."),
    Rule("redis.cluster.slots_uncovered", "critical", "The cluster does not serve every hash slot",
         "With cluster-require-full-coverage yes (the default) a cluster with an unserved slot refuses every "
         "command (CLUSTERDOWN); with no, the keys of those slots are unreachable.",
         "Find the node that owned the slots (CLUSTER NODES): bring it back, fail over to its replica, or, as "
         "the last resort, assign the slots elsewhere (redis-cli --cluster fix), which loses their keys."),
    Rule("redis.cluster.node_failed", "critical", "A cluster node has failed",
         "The other nodes agree it is unreachable (fail): its replica takes over if it has one; if not, its "
         "slots are down.",
         "Restart the node or fail over to its replica; then give every master a replica again.",
         otherwise=("warning", "it is only suspected (pfail): not yet agreed by a majority of masters")),
    Rule("redis.cluster.no_replica", "warning", "A cluster master has no replica",
         "If this master fails its slots have no one to fail over to, and the cluster goes down.",
         "Add a replica for it (CLUSTER REPLICATE on a spare node, or redis-cli --cluster add-node --cluster-slave)."),
    Rule("redis.persistence.save_failing", "critical", "Background saves are failing",
         "With stop-writes-on-bgsave-error (default yes) Redis refuses writes with MISCONF; SHUTDOWN refuses too; "
         "nothing on disk is current.",
         "Read the Redis log for the cause (dir deleted, disk full, permissions, fork failure), fix it, and check "
         "that rdb_last_bgsave_status becomes ok. Do not SHUTDOWN NOSAVE unless you accept losing the changes."),
    Rule("redis.persistence.aof_write_failing", "critical", "Writes to the AOF are failing",
         "Redis cannot append to its AOF: it refuses writes and the file on disk is behind.",
         "Check disk space and permissions of the AOF directory; read the log."),
    # ---- redis: replication
    Rule("redis.replication.full_sync_storm", "critical", "Replicas are stuck in repeated full resyncs",
         "Each full sync forks a BGSAVE and streams the whole dataset; when the backlog is too small or the output "
         "buffer limit too low, replicas are dropped and ask again, over and over. The master looks overloaded but "
         "a restart makes it worse: every replica then needs a full sync, and a restart may load the wrong data.",
         "Do not restart the master. Raise client-output-buffer-limit replica and repl-backlog-size (CONFIG SET), "
         "or stop the replicas and bring them back one at a time; reduce write load if you can."),
    Rule("redis.replication.backlog_too_small", "warning", "The replication backlog cannot cover a short outage",
         "A replica can resume with a partial sync only while the backlog still holds what it missed; at the "
         "measured write rate this backlog covers only a few seconds, so any blip means full resyncs.",
         "CONFIG SET repl-backlog-size to write rate x the longest outage to survive (with margin), then CONFIG REWRITE."),
    Rule("redis.replication.output_buffer_too_small", "warning", "The replica output-buffer limit is below what a full sync needs",
         "During a full sync the master buffers every write for the replica; when that exceeds the limit the "
         "replica is dropped and starts over.",
         "Raise client-output-buffer-limit replica above write rate x (save + transfer + load time)."),
    Rule("redis.replication.replica_lag", "warning", "A replica is behind its master",
         "Reads from a lagging replica are stale, and a failover to it loses the writes it has not received.",
         "Check the replica's link, its load and the network; do not fail over to it until the lag is small."),
    Rule("redis.replication.link_down", "critical", "The replication link is down",
         "The replica does not receive writes; its data gets older every second and it cannot be a failover target.",
         "Check that the master is reachable from the replica, its masterauth, and the master's log."),
    # ---- redis: host
    Rule("redis.host.overcommit_memory", "warning", "vm.overcommit_memory is not 1",
         "BGSAVE and AOF rewrites fork; with overcommit 0 the fork may fail under memory pressure and saves stop.",
         "sysctl vm.overcommit_memory=1 (and persist it in /etc/sysctl.d)."),
    Rule("redis.host.transparent_hugepages", "warning", "Transparent huge pages are enabled",
         "After a fork, copy-on-write of huge pages makes latency spikes and memory growth during saves.",
         "echo madvise > /sys/kernel/mm/transparent_hugepage/enabled (and persist it)."),
    Rule("redis.host.disk_space", "critical", "The data directory has less free space than a save needs",
         "An RDB or AOF rewrite needs about as much space as the dataset; a failing save makes Redis refuse writes.",
         "Free space on the filesystem of dir before the next save."),
    Rule("redis.unreachable", "critical", "The Redis server could not be read",
         "Nothing can be checked, so every guard on this server blocks.",
         "Check the address, the password and whether the process is alive (it may be stopped or hung)."),
    Rule("redis.config.unreadable", "warning", "CONFIG GET is not available",
         "CONFIG may be renamed or forbidden to this user: settings and the restart preview cannot be compared, "
         "so guards that need them block.",
         "Use a user allowed config|get, or read the config file by hand."),
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
]

RULES: dict[str, Rule] = {r.id: r for r in _RULES}


def make(rule_id: str, evidence: dict[str, Any], *, escalated: bool = False, title: str | None = None,
         action: str | None = None) -> Finding:
    """A finding for a catalogue rule, with the evidence that triggered it. escalated=True gives the rule's
    other severity (its page says when); a rule without one cannot be escalated."""
    r = RULES[rule_id]
    if escalated and not r.otherwise[0]:
        raise ValueError(f"{rule_id} has one severity: its page names no other")
    evidence = {k: v for k, v in evidence.items() if v is not None}  # unknown is left out, never "None"
    return Finding(rule_id, r.otherwise[0] if escalated else r.severity, title or r.title, evidence, r.why,
                   action or r.action)


def explain(rule_id: str) -> str:
    r = RULES[rule_id]
    lines = [f"{r.id}  ({r.severity_text})", "", r.title, "", "Why it matters", "  " + r.why, "", "What to do", "  " + r.action]
    if r.example:
        lines += ["", "Example", "  " + r.example]
    return "\n".join(lines)
