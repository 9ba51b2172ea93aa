using System.Globalization;

namespace Fleet.Simulator.Suite;

/// <summary>
/// Reads the host's <c>/metrics</c> (Prometheus text, open to loopback) for the counters the database cannot show:
/// reports the gateway dropped as duplicates, and positions found already stored. <c>positions</c> has
/// (vehicle_id, ts, seq) as its primary key, so a duplicate never becomes a second row; it is dropped and counted.
/// </summary>
public sealed class PlatformMetrics(Uri baseAddress) : IDisposable
{
    private static readonly string[] DuplicateCounters = ["fleet_reports_duplicate_total", "fleet_positions_duplicate_total"];
    private static readonly string[] ReceivedCounters = ["fleet_reports_received_total"];

    private readonly HttpClient _http = new() { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>The counters now: reports the gateway received, and duplicates dropped; nulls when /metrics does not answer.</summary>
    public async Task<(long? Received, long? Duplicates)> ReadAsync(CancellationToken ct)
    {
        string text;
        try
        {
            text = await _http.GetStringAsync(new Uri("/metrics", UriKind.Relative), ct);
        }
        catch (HttpRequestException)
        {
            return (null, null);
        }

        return ((long)Sum(text, ReceivedCounters), (long)Sum(text, DuplicateCounters));
    }

    private static double Sum(string text, string[] counters)
    {
        double total = 0;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith('#'))
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            if (space < 0)
            {
                continue;
            }

            var name = line[..space];
            var brace = name.IndexOf('{', StringComparison.Ordinal);
            if (counters.Contains(brace < 0 ? name : name[..brace])
                && double.TryParse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                total += value;
            }
        }

        return total;
    }

    public void Dispose() => _http.Dispose();
}
