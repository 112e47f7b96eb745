#if canImport(Glibc)
import Glibc
#endif
import Node
import Testing

@Suite struct ProcessStatusTests {
    static let sample = """
        Name:\tlifeline
        Umask:\t0022
        State:\tS (sleeping)
        VmPeak:\t 1418092 kB
        VmSize:\t 1352556 kB
        VmHWM:\t   87552 kB
        VmRSS:\t   80120 kB
        Threads:\t41
        """

    @Test func readsPeakAndCurrentResidentSetSize() {
        #expect(ProcessStatus.kibibytes("VmHWM", in: Self.sample) == 87_552)
        #expect(ProcessStatus.kibibytes("VmRSS", in: Self.sample) == 80_120)
    }

    @Test(arguments: [
        "VmHWM:\t 87552 MB",       // not kB: refused, not misread
        "VmHWM:\t kB",             // no number
        "VmHWM:\t -5 kB",          // negative
        "VmHWM:\t 12 34 kB",       // two numbers
        "VmHWMX:\t 87552 kB",      // another field with the same start
        "Threads:\t41",            // absent
    ])
    func refusesWhatIsNotAFigure(text: String) {
        #expect(ProcessStatus.kibibytes("VmHWM", in: text) == nil)
    }

    @Test func readsThisProcess() {
        let peak = ProcessStatus.kibibytes("VmHWM", pid: getpid())
        let current = ProcessStatus.kibibytes("VmRSS", pid: getpid())
        // No order between the two: the kernel updates VmHWM lazily, so it can
        // trail VmRSS for a moment.
        #expect((peak ?? 0) > 0)
        #expect((current ?? 0) > 0)
    }
}
