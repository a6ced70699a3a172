// A JVM with one runaway thread: "price-recalc" spins in a loop that never waits, the way a retry loop
// without a sleep or a regex on hostile input does. The other threads idle. Runs for args[0] seconds.
public class HotThread {
    static volatile long sink;

    static long recalculate(long seed) {
        long x = seed;
        for (int i = 0; i < 1_000_000; i++) {
            x = x * 6364136223846793005L + 1442695040888963407L;
        }
        return x;
    }

    public static void main(String[] args) throws Exception {
        long seconds = args.length > 0 ? Long.parseLong(args[0]) : 600;
        Thread hot = new Thread(() -> {
            long s = 1;
            while (true) {
                s = recalculate(s);
                sink = s;
            }
        }, "price-recalc");
        hot.setDaemon(true);
        hot.start();
        Thread idle = new Thread(() -> {
            try { Thread.sleep(Long.MAX_VALUE); } catch (InterruptedException e) { }
        }, "http-worker-1");
        idle.setDaemon(true);
        idle.start();
        System.out.println("ready");
        Thread.sleep(seconds * 1000);
    }
}
