using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Fleet.Simulator.Suite;

/// <summary>Writes a suite result as a console table, JSON, markdown and a self-contained HTML page with SVG charts.</summary>
public static class SuiteReport
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private static readonly string[] Header =
    [
        "scenario", "vehicles", "target/s", "achieved/s", "sent", "persisted", "rejected", "dup",
        "p50 ms", "p95 ms", "p99 ms", "max ms", "fleet s/1k", "mosq s/1k", "pg s/1k", "gen s/1k",
        "fleet RSS MiB", "DB rows/s", "hub frames/s", "hub kB/s", "behind", "p99 ×base", "CPU/1k ×base",
    ];

    /// <summary>Writes latest.json, latest.md, latest.html and a time-stamped JSON copy; returns the paths.</summary>
    public static async Task<IReadOnlyList<string>> WriteAsync(SuiteResult result, string directory, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(result);
        Directory.CreateDirectory(directory);
        var json = JsonSerializer.Serialize(result, Json);
        var stamp = result.StartedAt.UtcDateTime.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        var paths = new[]
        {
            Path.Combine(directory, "latest.json"),
            Path.Combine(directory, $"bench-{stamp}.json"),
            Path.Combine(directory, "latest.md"),
            Path.Combine(directory, "latest.html"),
        };
        await File.WriteAllTextAsync(paths[0], json, ct);
        await File.WriteAllTextAsync(paths[1], json, ct);
        await File.WriteAllTextAsync(paths[2], Markdown(result), ct);
        await File.WriteAllTextAsync(paths[3], Html(result), ct);
        return paths;
    }

    /// <summary>The rows of the table: the baseline, each scenario, each ramp step.</summary>
    public static IReadOnlyList<string[]> Rows(SuiteResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var baseline = result.Baseline?.Paced;
        var rows = new List<string[]>();
        if (baseline is not null)
        {
            rows.Add(Row(baseline, null));
        }

        foreach (var scenario in result.Scenarios)
        {
            rows.Add(Row(scenario, baseline));
        }

        foreach (var step in result.Ramp?.Steps ?? [])
        {
            rows.Add(Row(step, baseline));
        }

        return rows;
    }

    public static string Table(SuiteResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var rows = Rows(result);
        var widths = Header.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        var text = new StringBuilder();
        text.AppendLine(string.Join("  ", Header.Select((h, i) => h.PadLeft(widths[i]))));
        foreach (var row in rows)
        {
            text.AppendLine(string.Join("  ", row.Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i]))));
        }

        text.Append(Summary(result));
        return text.ToString();
    }

    public static string Markdown(SuiteResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var md = new StringBuilder();
        md.AppendLine(Invariant($"# Fleet benchmark, {result.StartedAt.UtcDateTime:yyyy-MM-dd HH:mm} UTC"));
        md.AppendLine();
        md.AppendLine(Invariant($"Machine: {result.Machine}. Suite time: {result.ElapsedSeconds / 60:F1} min."));
        if (result.Note is { } note)
        {
            md.AppendLine();
            md.AppendLine(note);
        }

        md.AppendLine();
        md.AppendLine("| " + string.Join(" | ", Header) + " |");
        md.AppendLine("|" + string.Concat(Header.Select((_, i) => i == 0 ? "---|" : "---:|")));
        foreach (var row in Rows(result))
        {
            md.AppendLine("| " + string.Join(" | ", row) + " |");
        }

        md.AppendLine();
        md.AppendLine("```");
        md.Append(Summary(result));
        md.AppendLine("```");
        if (result.Targets.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("| scenario | target | measured | met |");
            md.AppendLine("|---|---|---|---|");
            foreach (var check in result.Targets)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| {check.Scenario} | {check.Target} | {check.Measured} | {(check.Met ? "yes" : "**no**")} |");
            }
        }

        return md.ToString();
    }

    /// <summary>The lines under the table: baseline ceiling, ratios, ramp outcome, where the CPU went.</summary>
    private static string Summary(SuiteResult result)
    {
        var text = new StringBuilder();
        if (result.Baseline is { } baseline)
        {
            text.AppendLine(Invariant(
                $"broker ceiling (same payloads, {baseline.Paced.Vehicles} vehicles, QoS 1, do-nothing subscriber): {baseline.CeilingRate:F0} msg/s; Mosquitto {F2(baseline.CeilingMosquittoCores)} cores, publisher+subscriber {baseline.CeilingCores:F2} cores"));
        }

        var runs = (result.Baseline is { } paced ? new[] { paced.Paced } : []).Concat(result.Scenarios).Concat(result.Ramp?.Steps ?? []);
        foreach (var scenario in runs)
        {
            var cores = scenario.CpuCores;
            text.AppendLine(Invariant(
                $"{scenario.Name}: cores used fleet {F2(cores.Fleet)}, mosquitto {F2(cores.Mosquitto)}, postgres {F2(cores.Postgres)}, generator+hub client {scenario.GeneratorCores:F2}; whole machine {F2(scenario.MachineCores)} of {Environment.ProcessorCount} ({F2(Others(scenario))} by other processes){(scenario.Lost ? Invariant($"; LOST {scenario.Sent - scenario.Persisted}") : "")}"));
        }

        foreach (var scenario in result.Scenarios.Concat(result.Ramp?.Steps ?? []))
        {
            foreach (var note in scenario.Notes)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"{scenario.Name}: {note}");
            }
        }

        if (result.Ramp is { } ramp)
        {
            var ratio = result.Baseline is { CeilingRate: > 0 } b ? Invariant($" = {ramp.SustainedRate / b.CeilingRate:F2}× the broker ceiling") : "";
            text.AppendLine(Invariant($"ramp: highest sustained {ramp.SustainedRate:F0} reports/s{ratio}; stopped at {ramp.StopReason}"));
        }

        foreach (var check in result.Targets.Where(c => !c.Met))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"target missed: {check.Scenario}: {check.Target} (measured {check.Measured})");
        }

        return text.ToString();
    }

    private static string[] Row(ScenarioResult s, ScenarioResult? baseline)
    {
        var p99Ratio = baseline is { Latency.P99: > 0 } && s.Latency.Samples > 0 ? Invariant($"{(double)s.Latency.P99 / baseline.Latency.P99:F1}") : "-";
        var cpuRatio = baseline?.Cpu.Mosquitto is > 0 && s.Cpu.Platform is { } platform ? Invariant($"{platform / baseline.Cpu.Mosquitto.Value:F1}") : "-";
        return
        [
            s.Name,
            Invariant($"{s.Vehicles}"),
            Invariant($"{s.TargetRate:F0}"),
            Invariant($"{s.AchievedRate:F0}"),
            Invariant($"{s.Sent}"),
            Invariant($"{s.Persisted}"),
            Invariant($"{s.Rejected}"),
            Invariant($"{s.Duplicated}"),
            Invariant($"{s.Latency.P50}"),
            Invariant($"{s.Latency.P95}"),
            Invariant($"{s.Latency.P99}"),
            Invariant($"{s.Latency.Max}"),
            F3(s.Cpu.Fleet),
            F3(s.Cpu.Mosquitto),
            F3(s.Cpu.Postgres),
            F3(s.Cpu.Generator),
            s.FleetPeakRssMiB is { } rss ? Invariant($"{rss:F0}") : "-",
            Invariant($"{s.DbRowsPerSecond:F0}"),
            Invariant($"{s.HubFramesPerSecond:F1}"),
            Invariant($"{s.HubBytesPerSecond / 1024:F0}"),
            Invariant($"{s.GeneratorBehind}"),
            p99Ratio,
            cpuRatio,
        ];
    }

    public static string Html(SuiteResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var all = (result.Baseline is { } b ? new[] { b.Paced } : []).Concat(result.Scenarios).Concat(result.Ramp?.Steps ?? []).ToList();
        var html = new StringBuilder();
        html.AppendLine("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Fleet benchmark</title><style>");
        html.AppendLine("body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td:first-child,th:first-child{text-align:left}h2{margin-top:28px}svg text{font:11px system-ui,sans-serif}.bad{color:#b00;font-weight:bold}");
        html.AppendLine("</style></head><body>");
        html.AppendLine(Invariant($"<h1>Fleet benchmark, {result.StartedAt.UtcDateTime:yyyy-MM-dd HH:mm} UTC</h1><p>{Encode(result.Machine)}</p>"));
        if (result.Note is { } note)
        {
            html.AppendLine(CultureInfo.InvariantCulture, $"<p>{Encode(note)}</p>");
        }

        html.AppendLine("<table><tr>" + string.Concat(Header.Select(h => $"<th>{Encode(h)}</th>")) + "</tr>");
        foreach (var row in Rows(result))
        {
            html.AppendLine("<tr>" + string.Concat(row.Select(c => $"<td>{Encode(c)}</td>")) + "</tr>");
        }

        html.AppendLine("</table><pre>" + Encode(Summary(result)) + "</pre>");

        html.AppendLine("<h2>End-to-end latency (ms): p50, p95, p99</h2>");
        html.AppendLine(Bars(all.Select(s => (s.Name, new[] { (double)s.Latency.P50, s.Latency.P95, s.Latency.P99 })).ToList(), ["p50", "p95", "p99"], stacked: false));
        html.AppendLine("<h2>CPU seconds per 1,000 reports, by process</h2>");
        html.AppendLine(Bars(all.Select(s => (s.Name, new[] { s.Cpu.Fleet ?? 0, s.Cpu.Mosquitto ?? 0, s.Cpu.Postgres ?? 0, s.Cpu.Generator ?? 0 })).ToList(), ["Fleet", "Mosquitto", "PostgreSQL", "generator"], stacked: true));
        if (result.Ramp is { Steps.Count: > 0 } ramp)
        {
            html.AppendLine("<h2>Ramp: acknowledged reports/s per step</h2>");
            html.AppendLine(Bars(ramp.Steps.Select(s => (s.Name, new[] { s.AchievedRate })).ToList(), ["reports/s"], stacked: false));
        }

        html.AppendLine("</body></html>");
        return html.ToString();
    }

    /// <summary>A horizontal bar chart, one group per row, in inline SVG.</summary>
    private static string Bars(List<(string Label, double[] Values)> rows, string[] series, bool stacked)
    {
        string[] colours = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2"];
        const int LabelWidth = 170, ChartWidth = 560, BarHeight = 12;
        var perRow = stacked ? 1 : series.Length;
        var rowHeight = (perRow * BarHeight) + 8;
        var max = rows.Count == 0 ? 1 : rows.Max(r => stacked ? r.Values.Sum() : r.Values.DefaultIfEmpty(0).Max());
        max = max <= 0 ? 1 : max;
        var height = (rows.Count * rowHeight) + 24;
        var svg = new StringBuilder();
        svg.Append(Invariant($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{LabelWidth + ChartWidth + 90}\" height=\"{height}\">"));
        for (var r = 0; r < rows.Count; r++)
        {
            var y = r * rowHeight;
            svg.Append(Invariant($"<text x=\"0\" y=\"{y + (rowHeight / 2) + 3}\">{Encode(rows[r].Label)}</text>"));
            double x = LabelWidth;
            for (var s = 0; s < rows[r].Values.Length; s++)
            {
                var width = rows[r].Values[s] / max * ChartWidth;
                var barY = stacked ? y : y + (s * BarHeight);
                svg.Append(Invariant($"<rect x=\"{(stacked ? x : LabelWidth):F1}\" y=\"{barY}\" width=\"{Math.Max(0, width):F1}\" height=\"{BarHeight - 2}\" fill=\"{colours[s % colours.Length]}\"><title>{Encode(series[s])}: {rows[r].Values[s]:G4}</title></rect>"));
                if (!stacked)
                {
                    svg.Append(Invariant($"<text x=\"{LabelWidth + width + 4:F1}\" y=\"{barY + BarHeight - 3}\">{rows[r].Values[s]:G4}</text>"));
                }

                x += width;
            }

            if (stacked)
            {
                svg.Append(Invariant($"<text x=\"{x + 4:F1}\" y=\"{y + BarHeight - 3}\">{rows[r].Values.Sum():G3}</text>"));
            }
        }

        for (var s = 0; s < series.Length; s++)
        {
            svg.Append(Invariant($"<rect x=\"{LabelWidth + (s * 110)}\" y=\"{height - 14}\" width=\"10\" height=\"10\" fill=\"{colours[s % colours.Length]}\"/><text x=\"{LabelWidth + (s * 110) + 14}\" y=\"{height - 5}\">{Encode(series[s])}</text>"));
        }

        svg.Append("</svg>");
        return svg.ToString();
    }

    private static double? Others(ScenarioResult s) =>
        s.MachineCores is { } machine ? Math.Max(0, machine - (s.CpuCores.Fleet ?? 0) - (s.CpuCores.Mosquitto ?? 0) - (s.CpuCores.Postgres ?? 0) - s.GeneratorCores) : null;

    private static string F2(double? value) => value is { } v ? v.ToString("F2", CultureInfo.InvariantCulture) : "-";

    private static string F3(double? value) => value is { } v ? v.ToString("F3", CultureInfo.InvariantCulture) : "-";

    private static string Encode(string text) => WebUtility.HtmlEncode(text);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
