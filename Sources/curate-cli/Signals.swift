// Ctrl-C: the first asks the running loop to stop cleanly, the second exits at once.
import Foundation
import Synchronization

let interruptCount = Atomic<Int>(0)

enum Signals {
    static func install() {
        let handler: @convention(c) (Int32) -> Void = { _ in
            let (_, count) = interruptCount.add(1, ordering: .relaxed)
            if count >= 2 { _exit(130) }
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
    }

    static var interrupted: Bool { interruptCount.load(ordering: .relaxed) > 0 }
}
