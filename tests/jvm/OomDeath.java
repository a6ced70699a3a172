import java.util.ArrayList;
import java.util.List;

/** Keeps what it allocates until the heap is full and dies of OutOfMemoryError, as a leaking service does. */
public class OomDeath {
    public static void main(String[] args) {
        List<byte[]> kept = new ArrayList<>();
        while (true) {
            kept.add(new byte[64 * 1024]);
        }
    }
}
