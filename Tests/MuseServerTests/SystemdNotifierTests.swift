#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MuseIPC
import Synchronization
import Testing
@testable import MuseServer

/// A Unix datagram socket standing in for systemd's notification socket.
final class NotifyReceiver {
    let fd: Int32
    /// The address to put in NOTIFY_SOCKET: a path, or "@name" (abstract).
    let address: String

    init(abstract: Bool) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try #require(fd >= 0)
        let name = abstract ? "@muse-notify-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            : FileManager.default.temporaryDirectory.appending(path: "muse-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        address = name
        var storage = sockaddr_un()
        storage.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(name.utf8)
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &storage.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + (abstract ? 0 : 1))
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        try #require(bound == 0, "bind \(name): \(String(cString: strerror(errno)))")
    }

    deinit {
        close(fd)
        if address.hasPrefix("/") { unlink(address) }
    }

    /// The next datagram, or nil after `seconds`.
    func receive(seconds: Double) -> String? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(seconds * 1000)) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n >= 0 ? String(decoding: buffer.prefix(n), as: UTF8.self) : nil
    }
}

/// The sd_notify sender and the watchdog, without a daemon.
@Suite(.serialized)
struct SystemdNotifierTests {
    @Test(arguments: [false, true])
    func datagramsReachPathAndAbstractSockets(abstract: Bool) throws {
        let receiver = try NotifyReceiver(abstract: abstract)
        let notifier = try SystemdNotifier(socket: receiver.address)
        notifier.ready(status: "serving 2 tenants\nsecond line")
        #expect(receiver.receive(seconds: 2) == "READY=1\nSTATUS=serving 2 tenants second line")
        notifier.stopping(status: "stopping")
        #expect(receiver.receive(seconds: 2) == "STOPPING=1\nSTATUS=stopping")
        #expect(notifier.watchdog())
        #expect(receiver.receive(seconds: 2) == "WATCHDOG=1")
    }

    @Test func unusableAddressesAreRefused() {
        for address in ["relative/path", "@", "vsock:2:1234", "/" + String(repeating: "x", count: 200)] {
            #expect(throws: SystemdNotifierError.self, "\(address)") { try SystemdNotifier(socket: address) }
        }
        // No receiver: sending fails quietly.
        let notifier = try? SystemdNotifier(socket: "/nonexistent/notify")
        #expect(notifier?.watchdog() == false)
    }

    /// Pings flow while every worker beats, stop while one does not, and
    /// resume when it beats again.
    @Test func theWatchdogPingsOnlyWhileEveryWorkerProgresses() throws {
        let receiver = try NotifyReceiver(abstract: false)
        let notifier = try SystemdNotifier(socket: receiver.address)
        let beats = Locked<[UInt64]>([0, 0])
        let stuck = Atomic<Bool>(false)
        let stop = Atomic<Bool>(false)
        let beater = Thread {
            while !stop.load(ordering: .relaxed) {
                beats.withLock { b in
                    b[0] += 1
                    if !stuck.load(ordering: .relaxed) { b[1] += 1 }
                }
                usleep(10_000)
            }
        }
        beater.start()
        defer { stop.store(true, ordering: .relaxed) }
        // Pings every 100 ms.
        let watchdog = Watchdog(notifier: notifier, intervalNanoseconds: 200_000_000) { beats.withLock { $0 } }
        watchdog.start()
        defer { watchdog.stop() }
        var pings = 0
        let start = Date()
        while Date().timeIntervalSince(start) < 1, let message = receiver.receive(seconds: 0.5) {
            if message == "WATCHDOG=1" { pings += 1 }
        }
        #expect(pings >= 5, "\(pings) pings in a second")

        stuck.store(true, ordering: .relaxed)
        // One ping may have been decided just before the worker stuck.
        _ = receiver.receive(seconds: 0.25)
        #expect(receiver.receive(seconds: 1) == nil, "a ping while a worker is stuck")

        stuck.store(false, ordering: .relaxed)
        #expect(receiver.receive(seconds: 1) == "WATCHDOG=1")
    }

    @Test func theIntervalComesFromTheEnvironmentForThisProcessOnly() {
        defer { unsetenv("WATCHDOG_USEC"); unsetenv("WATCHDOG_PID") }
        unsetenv("WATCHDOG_PID")
        unsetenv("WATCHDOG_USEC")
        #expect(Watchdog.intervalFromEnvironment() == nil)
        setenv("WATCHDOG_USEC", "10000000", 1)
        #expect(Watchdog.intervalFromEnvironment() == 10_000_000_000)
        setenv("WATCHDOG_PID", "\(getpid())", 1)
        #expect(Watchdog.intervalFromEnvironment() == 10_000_000_000)
        setenv("WATCHDOG_PID", "\(getpid() + 1)", 1)
        #expect(Watchdog.intervalFromEnvironment() == nil)
        setenv("WATCHDOG_PID", "\(getpid())", 1)
        setenv("WATCHDOG_USEC", "ten", 1)
        #expect(Watchdog.intervalFromEnvironment() == nil)
    }
}
