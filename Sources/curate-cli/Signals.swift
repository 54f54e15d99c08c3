// Ctrl-C (and SIGTERM, a hang-up): the first asks the running loop to stop cleanly, the second exits at once,
// leaving word for the next `process` that the user ended it (so the image in flight is not blamed).
import Curate
import Foundation
import Synchronization

let interruptCount = Atomic<Int>(0)

enum Signals {
    static func install() {
        // The count is a global, set up on its first use behind a once: use it now, so that its first use is not in a
        // handler interrupting that setup (which would wait on the once forever).
        _ = interruptCount.load(ordering: .relaxed)
        let handler: @convention(c) (Int32) -> Void = { _ in
            let (_, count) = interruptCount.add(1, ordering: .relaxed)
            if count >= 2 {
                DeathEvidence.interrupted()
                _exit(130)
            }
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        signal(SIGHUP, handler)
        // A parent may start us with these signals blocked (the mask is inherited): unblock them, or Ctrl-C
        // and kill would never reach the handler.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGHUP)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    static var interrupted: Bool { interruptCount.load(ordering: .relaxed) > 0 }
}
