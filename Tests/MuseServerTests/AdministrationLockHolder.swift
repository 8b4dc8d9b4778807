#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MuseCore
@testable import MuseServer

/// Holds `daemon`'s administration lock on another thread for
/// `microseconds`, as a reload or a retirement would, and returns once it is
/// held. Wait for the returned thread to finish before the daemon stops.
func holdAdministrationLock(of daemon: Daemon, microseconds: useconds_t) -> Thread {
    let held = Locked(false)
    let holder = Thread {
        daemon.tenants.administration.run {
            held.withLock { $0 = true }
            usleep(microseconds)
        }
    }
    holder.start()
    while !held.withLock({ $0 }) { usleep(1000) }
    return holder
}
