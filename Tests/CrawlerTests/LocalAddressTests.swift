// Which addresses count as local (not the open internet's): the kinds a provider's results may not reach.
import Testing
@testable import Crawler

@Suite struct LocalAddressTests {
    @Test func privateNetworksAndCarrierGradeNATAreLocalTheirNeighboursAreNot() {
        let cases: [(String, LocalAddress?)] = [
            ("http://127.0.0.1/x", .loopback), ("http://[::1]/x", .loopback), ("http://localhost/x", .loopback),
            ("http://169.254.169.254/x", .linkLocal), ("http://[fe80::1]/x", .linkLocal),
            ("http://10.1.2.3/x", .privateNetwork), ("http://172.16.0.1/x", .privateNetwork), ("http://172.31.255.255/x", .privateNetwork),
            ("http://192.168.1.1/x", .privateNetwork), ("http://100.64.0.1/x", .privateNetwork), ("http://100.127.255.255/x", .privateNetwork),
            ("http://100.100.100.200/x", .privateNetwork), ("http://[fd00:ec2::254]/x", .privateNetwork), ("http://[fc00::1]/x", .privateNetwork),
            ("http://[::ffff:10.0.0.1]/x", .privateNetwork),
            ("http://11.0.0.1/x", nil), ("http://172.15.255.255/x", nil), ("http://172.32.0.1/x", nil), ("http://192.169.0.1/x", nil),
            ("http://100.63.255.255/x", nil), ("http://100.128.0.1/x", nil), ("http://[fe00::1]/x", nil), ("http://[2001:db8::1]/x", nil),
            ("http://commons.wikimedia.org/x", nil),
        ]
        for (url, kind) in cases { #expect(LocalAddress.of(url: url) == kind, "\(url)") }
    }
}
