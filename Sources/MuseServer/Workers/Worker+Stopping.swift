#if canImport(Glibc)
import Glibc
#endif
import MuseIPC

/// A stopping worker answers what was already submitted, within a bound.
extension Worker {
    /// Answers what clients had submitted when the stop came, up to
    /// `stopDrainNanoseconds`; later submissions wait for the next daemon.
    func answerSubmittedBeforeStop(scorer: WorkerScorer) {
        let started = ThreadSupport.monotonicNanoseconds()
        var answered = 0
        for i in 0..<endpoints.count { endpoints[i].beginDrain() }
        while !endpoints.allSatisfy({ $0.isDrained })
                && ThreadSupport.monotonicNanoseconds() - started < Self.stopDrainNanoseconds {
            var round = 0
            for i in 0..<endpoints.count {
                round &+= endpoints[i].drain(limit: batchSize, scorer: scorer, scratch: scratch)
            }
            answered &+= round
            if round == 0 { usleep(100) }
        }
        var left: UInt64 = 0
        for i in 0..<endpoints.count { left &+= endpoints[i].undrained }
        if answered > 0 || left > 0 {
            Log.info("worker-drained", ["worker": index, "answered": answered, "left": left,
                                        "milliseconds": (ThreadSupport.monotonicNanoseconds() - started) / 1_000_000])
        }
    }
}
