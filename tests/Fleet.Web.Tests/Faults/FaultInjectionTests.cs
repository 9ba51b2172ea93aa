using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Fleet.Simulator.Running;

namespace Fleet.Web.Tests.Faults;

/// <summary>One rig for the fault tests, which run alone: they load the machine and break shared processes.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FaultTestsDefinition : ICollectionFixture<FaultRig>
{
    public const string Name = "Faults";
}

/// <summary>
/// At-least-once from terminal to database, exactly-once in <c>positions</c>, proved by breaking things under load:
/// 2,000 vehicles at 1 Hz from the simulator, every QoS 1 publish the broker acknowledged recorded in a ledger and
/// looked up in <c>positions</c> afterwards by its primary key (vehicle_id, ts, seq).
/// </summary>
[Collection(FaultTestsDefinition.Name)]
[Trait("Category", "Faults")]
public sealed class FaultInjectionTests(FaultRig rig)
{
    private const string DuplicatesMetric = "fleet_reports_duplicate_total";
    private const string StoreDuplicatesMetric = "fleet_positions_duplicate_total";
    private const string SessionResumed = "session present True";
    private const string AcknowledgedMetric = "fleet_gateway_messages_acknowledged_total";
    private const string InFlightMetric = "fleet_gateway_inflight_messages";

    /// <summary>The gateway's default MQTT 5 Receive Maximum (GatewayOptions.ReceiveMaximum): its in-flight window.</summary>
    private const int GatewayWindow = 20_000;

    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Sigkilled_host_restarts_with_every_acknowledged_report_stored_once_and_live_state_restored()
    {
        var ct = TestContext.Current.CancellationToken;
        await WaitUntilHealthyAsync(ct);
        var ledger = new DeliveryLedger(rig.VehicleOfTerminal);
        SimulationSummary summary;
        Dictionary<long, long> snapshotsAtKill;
        TimeSpan downtime;
        await using (var load = rig.StartLoad(ledger))
        {
            // Long enough for the snapshot flush (every 5 s) to have written most vehicles' state.
            await WaitForAckedReportsAsync(ledger, FaultRig.Vehicles * 10, ct);

            await rig.Host.KillAsync();
            var down = Stopwatch.StartNew();
            snapshotsAtKill = await ReadSnapshotVersionsAsync(ct);

            // The terminals keep reporting; the broker holds it all in the gateway's persistent session.
            await Task.Delay(TimeSpan.FromSeconds(5), ct);
            await rig.Host.StartAsync(ct);
            downtime = down.Elapsed;

            await Task.Delay(TimeSpan.FromSeconds(5), ct);
            summary = await load.StopAsync();
            TestContext.Current.TestOutputHelper?.WriteLine(load.Output);
        }

        var (check, drained) = await rig.WaitUntilStoredAsync(ledger, DrainTimeout, ct);
        // Counted by the restarted process: the redelivered reports whose commit made it before the kill.
        var duplicates = await rig.ReadMetricAsync(DuplicatesMetric, ct);
        var storeDuplicates = await rig.ReadMetricAsync(StoreDuplicatesMetric, ct);
        Print(FaultReport.Format("host SIGKILL", summary, ledger, check, duplicates, storeDuplicates, downtime, drained));

        AssertEveryAckedReportStoredOnce(check);

        // The live state came back from the snapshots on start, not only from new reports.
        Assert.NotEmpty(snapshotsAtKill);
        var restored = rig.Host.FindInLog("Restored ").Select(ParseRestoredCount).LastOrDefault(-1);
        Print($"[host SIGKILL] snapshots at kill={snapshotsAtKill.Count} restored on start={restored}");
        Assert.True(restored >= snapshotsAtKill.Count, $"the restarted host restored {restored} vehicles; {snapshotsAtKill.Count} had snapshots\n{rig.Host.ReadLogTail()}");
        var live = await ReadLiveStatsAsync(ct);
        Assert.Equal(FaultRig.Vehicles, live.GetProperty("total").GetInt32());
        Assert.Equal(0, live.GetProperty("unknown").GetInt32());

        // Each grain carried on from its snapshot: its next snapshot has a higher version (a fresh grain would start
        // again from nothing, and the version check would refuse its snapshots).
        var regressed = await WaitForSnapshotsBeyondAsync(snapshotsAtKill, ct);
        Assert.True(regressed.Count == 0, $"{regressed.Count} vehicles' snapshots did not move past their version at the kill, e.g. {string.Join(", ", regressed.Take(5))}");
    }

    [Fact]
    public async Task Broker_restart_under_load_loses_no_acknowledged_report_and_sessions_resume()
    {
        var ct = TestContext.Current.CancellationToken;
        await WaitUntilHealthyAsync(ct);
        var ledger = new DeliveryLedger(rig.VehicleOfTerminal);
        var sessionsResumedBefore = rig.Host.FindInLog(SessionResumed).Count;
        SimulationSummary summary;
        TimeSpan downtime;
        double? duplicatesBefore;
        double? storeDuplicatesBefore;
        await using (var load = rig.StartLoad(ledger))
        {
            await WaitForAckedReportsAsync(ledger, FaultRig.Vehicles * 6, ct);
            duplicatesBefore = await rig.ReadMetricAsync(DuplicatesMetric, ct);
            storeDuplicatesBefore = await rig.ReadMetricAsync(StoreDuplicatesMetric, ct);

            // SIGTERM: Mosquitto saves its sessions and queues (persistence on) and loads them again on start.
            var down = Stopwatch.StartNew();
            await rig.Broker.StopAsync(ct);
            await Task.Delay(TimeSpan.FromSeconds(3), ct);
            await rig.Broker.StartAgainAsync(ct);
            downtime = down.Elapsed;

            await WaitUntilHealthyAsync(ct);
            await Task.Delay(TimeSpan.FromSeconds(5), ct);
            summary = await load.StopAsync();
            TestContext.Current.TestOutputHelper?.WriteLine(load.Output);
        }

        var (check, drained) = await rig.WaitUntilStoredAsync(ledger, DrainTimeout, ct);
        var duplicatesAfter = await rig.ReadMetricAsync(DuplicatesMetric, ct);
        var duplicates = duplicatesAfter - (duplicatesBefore ?? 0);
        var storeDuplicates = await rig.ReadMetricAsync(StoreDuplicatesMetric, ct) - (storeDuplicatesBefore ?? 0);
        Print(FaultReport.Format("broker restart", summary, ledger, check, duplicates, storeDuplicates, downtime, drained));

        AssertEveryAckedReportStoredOnce(check);

        // The terminals' publishes that were in flight when the broker went were resent, not given up.
        Assert.Equal(0, ledger.FailedPublishes);
        Assert.Equal(ledger.ReportsSent, check.Acked);

        // The gateway came back into its own session: what the broker queued for it while it was away was delivered.
        var sessionsResumed = rig.Host.FindInLog(SessionResumed).Count - sessionsResumedBefore;
        Assert.True(sessionsResumed >= 1, $"the gateway did not resume its session after the broker restart\n{rig.Host.ReadLogTail()}");
    }

    [Fact]
    public async Task Database_restart_under_load_holds_acknowledgements_within_the_window_and_drains_afterwards()
    {
        var ct = TestContext.Current.CancellationToken;
        await WaitUntilHealthyAsync(ct);
        var ledger = new DeliveryLedger(rig.VehicleOfTerminal);
        SimulationSummary summary;
        TimeSpan downtime;
        var samples = new List<OutageSample>();
        long baselineRss;
        double? duplicatesBefore;
        double? storeDuplicatesBefore;
        await using (var load = rig.StartLoad(ledger))
        {
            await WaitForAckedReportsAsync(ledger, FaultRig.Vehicles * 6, ct);
            baselineRss = rig.Host.ReadRssBytes() ?? 0;
            duplicatesBefore = await rig.ReadMetricAsync(DuplicatesMetric, ct) ?? 0;
            storeDuplicatesBefore = await rig.ReadMetricAsync(StoreDuplicatesMetric, ct) ?? 0;

            var down = Stopwatch.StartNew();
            await rig.Postgres.StopAsync(ct);
            while (down.Elapsed < TimeSpan.FromSeconds(15))
            {
                samples.Add(await SampleAsync(down.Elapsed, ct));
                await Task.Delay(TimeSpan.FromMilliseconds(500), ct);
            }

            await rig.Postgres.RestartAsync(ct);
            downtime = down.Elapsed;
            await WaitUntilHealthyAsync(ct);
            await Task.Delay(TimeSpan.FromSeconds(3), ct);
            summary = await load.StopAsync();
            TestContext.Current.TestOutputHelper?.WriteLine(load.Output);
        }

        var (check, drained) = await rig.WaitUntilStoredAsync(ledger, DrainTimeout, ct);
        var duplicates = await rig.ReadMetricAsync(DuplicatesMetric, ct) - duplicatesBefore;
        var storeDuplicates = await rig.ReadMetricAsync(StoreDuplicatesMetric, ct) - storeDuplicatesBefore;
        Print(FaultReport.Format("database restart", summary, ledger, check, duplicates, storeDuplicates, downtime, drained));
        foreach (var sample in samples)
        {
            Print(string.Create(CultureInfo.InvariantCulture, $"  t={sample.At.TotalSeconds:F1}s health={(int?)sample.Health} database={sample.Database} inflight={sample.InFlight} acknowledged={sample.Acknowledged} rss={sample.RssBytes / (1024 * 1024)}MB"));
        }

        var peakRss = samples.Max(s => s.RssBytes);
        var maxInFlight = samples.Max(s => s.InFlight ?? 0);
        Print(string.Create(CultureInfo.InvariantCulture, $"[database restart] rss baseline={baselineRss / (1024 * 1024)}MB peak={peakRss / (1024 * 1024)}MB max-inflight={maxInFlight}"));

        AssertEveryAckedReportStoredOnce(check);

        // Degraded health while the database is down: 503, with the database entry unhealthy.
        Assert.Contains(samples, s => s.Health == HttpStatusCode.ServiceUnavailable && s.Database == "Unhealthy");

        // Backpressure: nothing acknowledged once the in-flight commits have failed, and never more in flight than the window.
        var held = samples.Where(s => s.At >= TimeSpan.FromSeconds(3) && s.Acknowledged is not null).ToList();
        Assert.True(held.Count >= 2, "too few /metrics samples during the outage");
        Assert.Equal(held[0].Acknowledged, held[^1].Acknowledged);
        Assert.InRange(maxInFlight, 1, GatewayWindow);

        // Bounded memory: generous, for a loaded machine, but a host that buffered the backlog would blow through it.
        Assert.True(peakRss <= baselineRss + (512L * 1024 * 1024), $"RSS grew from {baselineRss / (1024 * 1024)} MB to {peakRss / (1024 * 1024)} MB while the database was down");
    }

    private static void Print(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    private static void AssertEveryAckedReportStoredOnce(LedgerCheck check)
    {
        Assert.True(check.Acked > 0, "the simulator got no acknowledgement at all");
        Assert.True(check.Missing == 0, $"{check.Missing} of {check.Acked} acknowledged reports are not in positions, e.g. {string.Join(", ", check.MissingSample)}");
        Assert.Equal(check.Acked, check.AckedRows);
        Assert.Equal(check.Rows, check.DistinctKeys);
    }

    private async Task WaitUntilHealthyAsync(CancellationToken ct)
    {
        var stopwatch = Stopwatch.StartNew();
        (HttpStatusCode? Status, JsonElement? Body) last = default;
        while (stopwatch.Elapsed < TimeSpan.FromSeconds(60))
        {
            last = await rig.Host.TryGetHealthAsync(ct);
            if (last.Status == HttpStatusCode.OK && last.Body?.GetProperty("status").GetString() == "Healthy")
            {
                return;
            }

            await Task.Delay(250, ct);
        }

        Assert.Fail($"/health not healthy after 60 s: {(int?)last.Status} {last.Body}\n{rig.Host.ReadLogTail()}");
    }

    private static async Task WaitForAckedReportsAsync(DeliveryLedger ledger, int reports, CancellationToken ct)
    {
        var stopwatch = Stopwatch.StartNew();
        while (ledger.ReportsAcked < reports)
        {
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(60), $"only {ledger.ReportsAcked} reports acknowledged after 60 s");
            await Task.Delay(200, ct);
        }
    }

    private async Task<Dictionary<long, long>> ReadSnapshotVersionsAsync(CancellationToken ct)
    {
        await using var connection = await rig.OpenAsync(ct);
        await using var command = new Npgsql.NpgsqlCommand("SELECT vehicle_id, version FROM vehicle_state", connection);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var versions = new Dictionary<long, long>();
        while (await reader.ReadAsync(ct))
        {
            versions[reader.GetInt64(0)] = reader.GetInt64(1);
        }

        return versions;
    }

    /// <summary>The vehicles whose snapshot is still at or below its version at the kill after waiting for the flushes.</summary>
    private async Task<List<long>> WaitForSnapshotsBeyondAsync(Dictionary<long, long> atKill, CancellationToken ct)
    {
        var stopwatch = Stopwatch.StartNew();
        while (true)
        {
            var now = await ReadSnapshotVersionsAsync(ct);
            var regressed = atKill.Where(e => !now.TryGetValue(e.Key, out var version) || version <= e.Value).Select(e => e.Key).ToList();
            if (regressed.Count == 0 || stopwatch.Elapsed > TimeSpan.FromSeconds(30))
            {
                return regressed;
            }

            await Task.Delay(TimeSpan.FromSeconds(1), ct);
        }
    }

    private async Task<JsonElement> ReadLiveStatsAsync(CancellationToken ct)
    {
        using var session = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), UseCookies = true })
        {
            BaseAddress = rig.Host.BaseAddress,
            Timeout = TimeSpan.FromSeconds(30),
        };
        var login = await session.LoginAsync("admin", rig.Passwords["admin"], ct);
        Assert.Equal(HttpStatusCode.OK, login.Status);
        return (await session.GetFromJsonAsync<JsonElement>("/api/stats/live", ct)).Clone();
    }

    private static int ParseRestoredCount(string line)
    {
        var words = line[(line.IndexOf("Restored ", StringComparison.Ordinal) + "Restored ".Length)..].Split(' ');
        return int.TryParse(words[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var count) ? count : -1;
    }

    private async Task<OutageSample> SampleAsync(TimeSpan at, CancellationToken ct)
    {
        var (status, body) = await rig.Host.TryGetHealthAsync(ct);
        string? database = null;
        if (body is { } json && json.TryGetProperty("checks", out var checks) && checks.TryGetProperty("database", out var entry))
        {
            database = entry.GetProperty("status").GetString();
        }

        var metrics = await rig.Host.TryScrapeAsync(ct);
        return new OutageSample(
            at,
            status,
            database,
            metrics is not null && metrics.TryGetValue(InFlightMetric, out var inFlight) ? (long)inFlight : null,
            metrics is not null && metrics.TryGetValue(AcknowledgedMetric, out var acknowledged) ? (long)acknowledged : null,
            rig.Host.ReadRssBytes() ?? 0);
    }

    private sealed record OutageSample(TimeSpan At, HttpStatusCode? Health, string? Database, long? InFlight, long? Acknowledged, long RssBytes);
}
