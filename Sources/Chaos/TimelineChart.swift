import Foundation

/// The report's chart: three stacked panels sharing the time axis (ok throughput, errors,
/// p99 latency), fault bands shaded across all three, fault and recovery steps as labelled
/// vertical lines. Plain SVG text, no scripts.
struct TimelineChart {
    static let width = 1100.0
    static let left = 64.0
    static let right = 20.0
    static let top = 60.0
    static let panelHeight = 130.0
    static let panelGap = 26.0
    static let bottom = 34.0

    let report: DrillReport

    var spanSeconds: Double { max(1, max(report.durationSeconds, Double(report.timeline.count))) }
    var plotWidth: Double { Self.width - Self.left - Self.right }
    var height: Double { Self.top + 3 * Self.panelHeight + 2 * Self.panelGap + Self.bottom }

    func x(_ seconds: Double) -> Double { Self.left + seconds / spanSeconds * plotWidth }
    func panelTop(_ index: Int) -> Double { Self.top + Double(index) * (Self.panelHeight + Self.panelGap) }

    func svg() -> String {
        var parts: [String] = []
        parts.append(#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \#(Int(Self.width)) \#(Int(height))" role="img" aria-label="Drill timeline: throughput, errors and p99 latency with fault bands">"#)
        parts.append(#"<style>text{font:11px Helvetica,Arial,sans-serif;fill:#445}.title{font-weight:700;fill:#1d2733}.band-label{fill:#9a3d12;font-weight:600}.grid{stroke:#e9edf2}.axis{stroke:#9aa5b1}</style>"#)
        let bottomOfPlots = panelTop(2) + Self.panelHeight
        for band in report.bands {
            let x0 = x(Double(band.startUs) / 1_000_000)
            let x1 = max(x0 + 2, x(Double(band.endUs) / 1_000_000))
            parts.append(#"<rect class="fault-band" x="\#(f(x0))" y="\#(f(Self.top - 6))" width="\#(f(x1 - x0))" height="\#(f(bottomOfPlots - Self.top + 6))" fill="rgb(245,158,11)" fill-opacity="0.13"/>"#)
        }
        let ok = report.timeline.map { (Double($0.second), Double($0.ok)) }
        let errors = report.timeline.map { (Double($0.second), Double($0.errors)) }
        let latency = report.timeline.map { (Double($0.second), $0.p99LatencyMs) }
        parts.append(panel(0, title: "Throughput (ok ops/s)", points: ok, color: "#2563eb", bars: false))
        parts.append(panel(1, title: "Errors (failed or unknown ops/s)", points: errors, color: "#dc2626", bars: true))
        parts.append(panel(2, title: "p99 latency (ms)", points: latency, color: "#7c3aed", bars: false))
        parts.append(timeAxis(bottomOfPlots))
        parts.append(eventMarks(bottomOfPlots))
        parts.append("</svg>")
        return parts.joined(separator: "\n")
    }

    private func panel(_ index: Int, title: String, points: [(Double, Double)], color: String, bars: Bool) -> String {
        let top = panelTop(index)
        let maximum = niceCeiling(points.map(\.1).max() ?? 0)
        func y(_ value: Double) -> Double { top + Self.panelHeight - value / maximum * Self.panelHeight }
        var parts = [#"<text class="title" x="\#(f(Self.left))" y="\#(f(top - 8))">\#(escape(title))</text>"#]
        for tick in 0...4 {
            let value = maximum * Double(tick) / 4
            parts.append(#"<line class="grid" x1="\#(f(Self.left))" x2="\#(f(Self.width - Self.right))" y1="\#(f(y(value)))" y2="\#(f(y(value)))"/>"#)
            parts.append(#"<text x="\#(f(Self.left - 6))" y="\#(f(y(value) + 4))" text-anchor="end">\#(label(value))</text>"#)
        }
        parts.append(#"<line class="axis" x1="\#(f(Self.left))" x2="\#(f(Self.left))" y1="\#(f(top))" y2="\#(f(top + Self.panelHeight))"/>"#)
        if bars {
            let barWidth = max(1, plotWidth / spanSeconds - 1)
            for (second, value) in points where value > 0 {
                parts.append(#"<rect x="\#(f(x(second)))" y="\#(f(y(value)))" width="\#(f(barWidth))" height="\#(f(top + Self.panelHeight - y(value)))" fill="\#(color)" fill-opacity="0.8"/>"#)
            }
        } else if !points.isEmpty {
            let line = points.map { "\(f(x($0.0 + 0.5))),\(f(y($0.1)))" }.joined(separator: " ")
            let area = "\(f(x(points[0].0 + 0.5))),\(f(y(0))) " + line + " \(f(x(points[points.count - 1].0 + 0.5))),\(f(y(0)))"
            parts.append(#"<polygon points="\#(area)" fill="\#(color)" fill-opacity="0.10"/>"#)
            parts.append(#"<polyline points="\#(line)" fill="none" stroke="\#(color)" stroke-width="1.6" stroke-linejoin="round"/>"#)
        }
        return parts.joined(separator: "\n")
    }

    private func timeAxis(_ baseline: Double) -> String {
        let step = [5.0, 10, 15, 30, 60, 120, 300, 600].first { spanSeconds / $0 <= 14 } ?? 1_800
        var parts = [#"<line class="axis" x1="\#(f(Self.left))" x2="\#(f(Self.width - Self.right))" y1="\#(f(baseline))" y2="\#(f(baseline))"/>"#]
        var second = 0.0
        while second <= spanSeconds + 0.001 {
            parts.append(#"<line class="axis" x1="\#(f(x(second)))" x2="\#(f(x(second)))" y1="\#(f(baseline))" y2="\#(f(baseline + 4))"/>"#)
            parts.append(#"<text x="\#(f(x(second)))" y="\#(f(baseline + 16))" text-anchor="middle">\#(Int(second)) s</text>"#)
            second += step
        }
        return parts.joined(separator: "\n")
    }

    /// Fault and recovery steps: a dashed line through all panels and a label above them,
    /// on the first of two rows where it does not run into the previous label.
    private func eventMarks(_ baseline: Double) -> String {
        var parts: [String] = []
        var rowEnds = [-Double.infinity, -Double.infinity]
        for event in report.events where event.kind != .note {
            let position = x(Double(event.atUs) / 1_000_000)
            let color = event.kind == .fault ? "#b5471b" : "#17692c"
            let anchorEnd = position > Self.width - 170
            let textWidth = Double(event.label.count) * 6.2
            let start = anchorEnd ? position - 3 - textWidth : position + 3
            let row = rowEnds[0] < start - 8 ? 0 : (rowEnds[1] < start - 8 ? 1 : (rowEnds[0] <= rowEnds[1] ? 0 : 1))
            rowEnds[row] = start + textWidth
            let labelY = 18.0 + Double(row) * 16
            parts.append(#"<line class="event \#(event.kind.rawValue)" x1="\#(f(position))" x2="\#(f(position))" y1="\#(f(labelY + 3))" y2="\#(f(baseline))" stroke="\#(color)" stroke-width="1.2" stroke-dasharray="4 3"/>"#)
            parts.append(#"<text x="\#(f(anchorEnd ? position - 3 : position + 3))" y="\#(f(labelY))" text-anchor="\#(anchorEnd ? "end" : "start")" style="fill:\#(color);font-weight:600">\#(escape(event.label))</text>"#)
        }
        return parts.joined(separator: "\n")
    }

    // MARK: - Numbers

    private func niceCeiling(_ value: Double) -> Double {
        guard value > 0 else { return 1 }
        let magnitude = pow(10, floor(log10(value)))
        for multiple in [1.0, 2, 2.5, 5, 10] where multiple * magnitude >= value { return multiple * magnitude }
        return 10 * magnitude
    }

    private func label(_ value: Double) -> String {
        value >= 1_000 ? String(format: "%.0fk", value / 1_000) : value == value.rounded() ? String(format: "%.0f", value) : String(format: "%.1f", value)
    }

    private func f(_ value: Double) -> String { String(format: "%.1f", value) }
}
