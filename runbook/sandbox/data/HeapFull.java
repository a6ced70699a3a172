// A JVM whose live set has grown to fill its old generation (a cache without a bound): it holds
// args[1] MB and keeps allocating, some of it living long enough to be promoted, so full GCs come one
// after another and free almost nothing. Runs for args[0] seconds. It allocates 128 KB per half
// millisecond: with 54 MB live in -Xmx64m -Xmn8m (ParallelGC) about 60 full GCs a second, for a third
// of a core (a 1 ms sleep every 64 allocations made 450 a second and kept both cores of a small
// machine busy for as long as the rehearsal ran).
import java.util.ArrayList;
import java.util.List;

public class HeapFull {
    static final List<byte[]> cache = new ArrayList<>();

    public static void main(String[] args) throws Exception {
        long seconds = args.length > 0 ? Long.parseLong(args[0]) : 600;
        int liveMb = args.length > 1 ? Integer.parseInt(args[1]) : 54;
        for (int i = 0; i < liveMb * 4; i++) {
            cache.add(new byte[256 * 1024]);
        }
        System.out.println("ready");
        byte[][] ring = new byte[16][];
        long end = System.currentTimeMillis() + seconds * 1000;
        int i = 0;
        while (System.currentTimeMillis() < end) {
            ring[i++ % ring.length] = new byte[128 * 1024];
            if (i % 2 == 0) {
                Thread.sleep(1);
            }
        }
    }
}
