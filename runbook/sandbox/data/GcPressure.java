import java.util.ArrayList;
import java.util.List;

/** A JVM under GC pressure for rehearsals: a live set close to a small heap, so old collections run
 *  often and long. Bounded: it stops by itself after the given seconds. */
public class GcPressure {
    public static void main(String[] args) throws Exception {
        long seconds = args.length > 0 ? Long.parseLong(args[0]) : 600;
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        List<byte[]> live = new ArrayList<>();
        long total = 0;
        int i = 0;
        while (System.nanoTime() < end) {
            byte[] b = new byte[8 * 1024];
            total += b.length;
            if (i % 4 == 0) {
                live.add(b);
                if (live.size() > 2000) {     // about 16 MB kept, in a heap of 24 MB
                    live.remove(i % live.size());
                }
            }
            if (i % 20_000 == 0) {
                Thread.sleep(5);              // a steady pace, not a spin
            }
            i++;
        }
        System.out.println("allocated " + total);
    }
}
