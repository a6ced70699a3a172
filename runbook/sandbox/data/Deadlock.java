// A JVM whose two order workers took the same two locks in opposite orders: a Java-level deadlock
// that the JVM's thread dump reports. It prints "ready" once the JVM itself sees the deadlock; the main
// thread stays alive for args[0] seconds.
public class Deadlock {
    static final Object inventory = new Object();
    static final Object ledger = new Object();

    static void both(Object first, Object second) {
        synchronized (first) {
            try { Thread.sleep(200); } catch (InterruptedException e) { return; }
            synchronized (second) {
                System.out.println("never printed");
            }
        }
    }

    public static void main(String[] args) throws Exception {
        long seconds = args.length > 0 ? Long.parseLong(args[0]) : 600;
        Thread a = new Thread(() -> both(inventory, ledger), "order-worker-1");
        Thread b = new Thread(() -> both(ledger, inventory), "order-worker-2");
        a.setDaemon(true);
        b.setDaemon(true);
        a.start();
        b.start();
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        while (mx.findDeadlockedThreads() == null) {
            Thread.sleep(20);
        }
        System.out.println("ready");
        Thread.sleep(seconds * 1000);
    }
}
