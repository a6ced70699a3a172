"""The Redis kind's finding rules (`runbook explain ID`): the restart simulation, memory, clients,
persistence, latency, Sentinel, Cluster, replication and the host as Redis sees it. Ids are stable: add,
never rename."""

from __future__ import annotations

from runbook.kind import Rule, named_by

RULES = named_by((
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
    Rule("redis.restart.role_changes", "critical", "After a restart the server would have another role",
         "The role was given at runtime (REPLICAOF, or a failover that was not written back) and the file a restart "
         "reads says otherwise: a replica comes back a writable master beside the real one (two masters, "
         "diverging data), or replicates from another master, or a master becomes a replica.",
         "CONFIG REWRITE on the running server writes its role to the file (or fix the replicaof line), then "
         "check again."),
    Rule("redis.restart.clients_break", "critical", "After a restart clients that work now would fail",
         "The file a restart reads renames or disables a command that clients call now (INFO commandstats counts "
         "their calls), or sets maxclients below the clients connected now: those calls fail with 'unknown "
         "command', or those connections are refused.",
         "Make the file's rename-command and maxclients match the running server (or change the clients first), "
         "then check again."),
    Rule("redis.restart.sentinel_failover", "critical", "Sentinels would fail this master over during the restart",
         "Sentinels subscribed to this master call it down after down-after-milliseconds without an answer; a stop "
         "and a start take longer than that, so they promote a replica, and the old master comes back as its "
         "replica: clients that still write to it get READONLY.",
         "Fail over first (SENTINEL FAILOVER <master>, as the Sentinel playbook does), then restart the old master "
         "as a replica; or, if it must stay master, raise down-after-milliseconds on every Sentinel for the "
         "restart."),
    Rule("redis.restart.cluster_forgets", "critical", "After a restart this cluster node would forget who it is",
         "A cluster node's identity, slots and peers are in its cluster-config-file. A restart that reads another "
         "nodes file, finds none, or turns cluster mode off or on comes back as a new, empty-handed node: the "
         "cluster loses the slots it served.",
         "Point cluster-config-file at the node's own nodes file (and keep cluster-enabled as it is), then "
         "check again."),
    Rule("redis.restart.empties_cache", "info", "A restart empties this cache",
         "The server keeps nothing on disk by design (save \"\", appendonly no), evicts keys under a memory "
         "policy, and has no replica: it is a cache, and a restart starts it empty. That is information, not an "
         "incident; the application refills it, with more load on what is behind it for a while.",
         "Before a restart, confirm the loss: the restart guard passes a cache with the number of keys lost in its "
         "evidence, and the confirmation is bound to it. If the data matters, say `data: store` in the inventory "
         "(then a restart that empties it is blocked as redis.restart.data_loss)."),
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
    Rule("redis.memory.no_limit", "warning", "No memory limit, and the dataset is over half the memory it may use",
         "Without maxmemory the kernel's OOM killer decides when memory runs out (the host's memory, or the "
         "memory limit of the cgroup the server runs in, whichever is smaller): it kills the process, and a fork "
         "for a save or a full sync needs more memory still.",
         "Set maxmemory below that memory, leaving room for the fork (CONFIG SET maxmemory, CONFIG REWRITE); "
         "or raise the cgroup's limit if it is the container that is too small."),
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
), {
    "redis.": ("redis check",),
    "redis.restart.": ("redis check (its restart preview; --restart starts a copy of the restart to prove it)",),
})
