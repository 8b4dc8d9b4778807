import MuseControl
import MuseCore

extension ControlResponse.Step {
    /// A step named `name` that began at `started` (a
    /// `ThreadSupport.monotonicNanoseconds()` reading) and ends now.
    init(_ name: String, since started: UInt64) {
        self.init(name: name, milliseconds: Double(ThreadSupport.monotonicNanoseconds() - started) / 1e6)
    }
}
