import java.util.ArrayList;
import java.util.List;

/** A small, bounded GC workload for tests: allocates garbage, keeps some, calls System.gc() once. */
public class GcWorkload {
    public static void main(String[] args) throws Exception {
        long seconds = args.length > 0 ? Long.parseLong(args[0]) : 2;
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        List<byte[]> kept = new ArrayList<>();
        long sink = 0;
        int i = 0;
        boolean calledGc = false;
        while (System.nanoTime() < end) {
            byte[] b = new byte[1024 + (i % 64) * 128];
            sink += b.length;
            if (i % 50 == 0) {
                kept.add(b);
                if (kept.size() > 4_000) {  // at most about 20 MB kept
                    kept.subList(0, 2_000).clear();
                }
            }
            if (!calledGc && System.nanoTime() > end - seconds * 500_000_000L) {
                System.gc();
                calledGc = true;
            }
            i++;
        }
        if (args.length > 1) {
            Thread.sleep(Long.parseLong(args[1]) * 1000);  // stay alive for live probes
        }
        System.out.println("done " + sink + " " + kept.size());
    }
}
