using System.Globalization;
using System.Net;
using System.Security.Claims;
using System.Text.Json;
using Fleet.Core.Telemetry;
using Fleet.Silo.Hosting;
using Fleet.Silo.Shards;
using Fleet.TestSupport;
using Fleet.Web.Auth;
using Fleet.Web.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fleet.Web.Tests;

public sealed class MetricsTests(PostgresFixture postgres)
{
    private const string PeerHeader = "X-Test-Peer";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task Metrics_are_served_in_the_prometheus_text_format_with_the_silo_and_web_metrics()
    {
        var db = await postgres.CreateDatabaseAsync(cancellationToken: Ct);
        await using var host = await FleetHost.StartAsync(db.ConnectionString, Ct);

        using var response = await host.Client.GetAsync("/metrics", Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Contains("# HELP fleet_positions_committed_total Positions committed to PostgreSQL\n", text, StringComparison.Ordinal);
        foreach (var (name, type) in new[]
        {
            ("fleet_positions_committed_total", "counter"),
            ("fleet_positions_duplicate_total", "counter"),
            ("fleet_copy_duration_seconds", "histogram"),
            ("fleet_shard_queue_depth", "gauge"),
            ("fleet_store_pending_rows", "gauge"),
            ("fleet_active_grains", "gauge"),
            ("fleet_hub_connections", "gauge"),
            ("fleet_positions_default_rows", "gauge"),
        })
        {
            Assert.Contains($"# TYPE {name} {type}\n", text, StringComparison.Ordinal);
        }

        var samples = Parse(text);
        Assert.Equal(0, samples["fleet_copy_duration_seconds_count"]);
        Assert.Equal(0, samples["fleet_shard_queue_depth"]);
        Assert.Equal(0, samples["fleet_hub_connections"]);
        Assert.Equal(0, samples["fleet_positions_default_rows"]);
        // No gateway in this host: no MQTT settings.
        Assert.DoesNotContain("fleet_reports_received_total", text, StringComparison.Ordinal);
        Assert.All(text.Split('\n', StringSplitOptions.RemoveEmptyEntries), line =>
            Assert.Matches(@"^(# (HELP|TYPE) [a-z_:][a-z0-9_:]* .+|[a-z_:][a-z0-9_:]*(\{[a-z_]+=""[^""]*""(,[a-z_]+=""[^""]*"")*\})? [-+0-9.eE]+|.* (\+Inf|NaN))$", line));
    }

    [Fact(Timeout = 60_000)]
    public async Task Counters_grow_and_the_copy_histogram_is_cumulative_after_reports_are_committed()
    {
        var db = await postgres.CreateDatabaseAsync(cancellationToken: Ct);
        await using var host = await FleetHost.StartAsync(db.ConnectionString, Ct);
        var shards = host.Services.GetRequiredService<ShardHost>();
        var before = Parse(await ScrapeAsync(host.Client));

        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var batch = 0; batch < 3; batch++)
        {
            var reports = Enumerable.Range(1, 5).Select(v => Report(v, now - 60_000 + batch * 1_000, (uint)batch)).ToArray();
            var committed = await shards.SubmitAsync(reports, Ct);
            await committed.WaitAsync(Ct);
        }

        var redelivered = await shards.SubmitAsync(new[] { Report(1, now - 60_000, 0) }, Ct);
        await redelivered.WaitAsync(Ct);
        var after = Parse(await ScrapeAsync(host.Client));

        Assert.Equal(15, after["fleet_positions_committed_total"] - before["fleet_positions_committed_total"]);
        Assert.Equal(1, after["fleet_positions_duplicate_total"] - before["fleet_positions_duplicate_total"]);
        Assert.Equal(5, after["fleet_active_grains"]);
        // One COPY per committed submission, the redelivered one included (it is retried through the staging table).
        var count = after["fleet_copy_duration_seconds_count"] - before["fleet_copy_duration_seconds_count"];
        Assert.Equal(4, count);
        Assert.True(after["fleet_copy_duration_seconds_sum"] > 0);
        var buckets = after.Where(s => s.Key.StartsWith("fleet_copy_duration_seconds_bucket{", StringComparison.Ordinal)).ToList();
        Assert.Equal(FleetBucketCount + 1, buckets.Count);
        var bounds = buckets.Select(b => Le(b.Key)).ToList();
        Assert.Equal(bounds.Order().ToList(), bounds);
        Assert.True(double.IsPositiveInfinity(bounds[^1]));
        var counts = buckets.Select(b => b.Value).ToList();
        Assert.Equal(counts.Order().ToList(), counts);
        Assert.Equal(after["fleet_copy_duration_seconds_count"], counts[^1]);
    }

    [Fact(Timeout = 90_000)]
    public async Task Metrics_are_refused_to_remote_clients_unless_signed_in_as_admin()
    {
        var db = await postgres.CreateDatabaseAsync(cancellationToken: Ct);
        await using var host = await FleetHost.StartAsync(
            db.ConnectionString,
            builder => builder.Services.AddSingleton<IStartupFilter, PeerOverride>(),
            Ct);
        var passwords = await SeededFleet.SeedAsync(db, Ct);

        var anonymous = Remote(host.CreateSessionClient());
        var supervisor = Remote(host.CreateSessionClient());
        var admin = Remote(host.CreateSessionClient());
        Assert.Equal(HttpStatusCode.OK, (await supervisor.LoginAsync("supervisor", passwords["supervisor"], Ct)).Status);
        Assert.Equal(HttpStatusCode.OK, (await admin.LoginAsync("admin", passwords["admin"], Ct)).Status);

        (await anonymous.GetApiAsync("/metrics", Ct)).AssertProblem(HttpStatusCode.Unauthorized);
        (await supervisor.GetApiAsync("/metrics", Ct)).AssertProblem(HttpStatusCode.Forbidden);
        using var asAdmin = await admin.GetAsync("/metrics", Ct);
        Assert.Equal(HttpStatusCode.OK, asAdmin.StatusCode);
        Assert.Contains("fleet_active_grains", await asAdmin.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        using var fromLoopback = await host.Client.GetAsync("/metrics", Ct);
        Assert.Equal(HttpStatusCode.OK, fromLoopback.StatusCode);
    }

    [Theory]
    [InlineData("127.0.0.1", null, true)]
    [InlineData("127.8.9.10", null, true)]
    [InlineData("::1", null, true)]
    [InlineData("::ffff:127.0.0.1", null, true)]
    [InlineData("10.0.0.5", null, false)]
    [InlineData("::ffff:10.0.0.5", null, false)]
    [InlineData("2001:db8::1", FleetRoles.Supervisor, false)]
    [InlineData("203.0.113.9", FleetRoles.Admin, true)]
    public void Access_is_for_loopback_peers_and_admins(string peer, string? role, bool allowed)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(peer);
        if (role is not null)
        {
            context.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "someone"), new Claim(ClaimTypes.Role, role)], "test"));
        }

        Assert.Equal(allowed, MetricsApi.IsAllowed(context));
    }

    [Fact(Timeout = 60_000)]
    public async Task Health_lists_database_silo_and_positions_default_and_is_degraded_while_reports_land_in_the_default_partition()
    {
        var db = await postgres.CreateDatabaseAsync(cancellationToken: Ct);
        await using var host = await FleetHost.StartAsync(db.ConnectionString, Ct);
        // The first maintenance round runs as the host starts; let it finish so it does not move the row below.
        var monitor = host.Services.GetRequiredService<PositionsDefaultMonitor>();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (monitor.Last is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, Ct);
        }

        var healthy = await host.Client.GetApiAsync("/health", Ct);
        var day = DateOnly.FromDateTime(DateTime.UtcNow).AddDays(-20);
        await using (var insert = db.CreateCommand("INSERT INTO positions (vehicle_id, ts, seq, lat, lon) VALUES (1, $1, 1, 40.84, 111.75)"))
        {
            insert.Parameters.Add(new NpgsqlParameter { Value = day.ToDateTime(new TimeOnly(12, 0), DateTimeKind.Utc) });
            await insert.ExecuteNonQueryAsync(Ct);
        }

        var degraded = await host.Client.GetApiAsync("/health", Ct);
        var samples = Parse(await ScrapeAsync(host.Client));

        Assert.Equal(HttpStatusCode.OK, healthy.Status);
        Assert.Equal("Healthy", healthy.Body.GetProperty("status").GetString());
        var checks = healthy.Body.GetProperty("checks");
        Assert.Equal(["database", "positions-default", "silo"], checks.EnumerateObject().Select(c => c.Name).Order(StringComparer.Ordinal));
        Assert.All(checks.EnumerateObject(), c => Assert.Equal("Healthy", c.Value.GetProperty("status").GetString()));

        Assert.Equal(HttpStatusCode.OK, degraded.Status);
        Assert.Equal("Degraded", degraded.Body.GetProperty("status").GetString());
        var entry = degraded.Body.GetProperty("checks").GetProperty("positions-default");
        Assert.Equal("Degraded", entry.GetProperty("status").GetString());
        Assert.Equal(
            $"reports are landing in positions_default: partitions missing for {day:yyyy-MM-dd} (about 1 rows)",
            entry.GetProperty("description").GetString());
        Assert.Equal(1, samples["fleet_positions_default_rows"]);
    }

    [Fact(Timeout = 30_000)]
    public async Task Json_logging_is_chosen_by_setting_with_utc_timestamps_and_scopes()
    {
        await using var json = FleetHost.Build(new Dictionary<string, string?> { ["Fleet:Logging:Json"] = "true" });
        await using var plain = FleetHost.Build(new Dictionary<string, string?>());

        var console = json.Services.GetRequiredService<IOptionsMonitor<ConsoleLoggerOptions>>().CurrentValue;
        var formatter = json.Services.GetRequiredService<IOptionsMonitor<JsonConsoleFormatterOptions>>().CurrentValue;
        Assert.Equal(ConsoleFormatterNames.Json, console.FormatterName);
        Assert.True(formatter.UseUtcTimestamp);
        Assert.True(formatter.IncludeScopes);
        Assert.NotEqual(ConsoleFormatterNames.Json, plain.Services.GetRequiredService<IOptionsMonitor<ConsoleLoggerOptions>>().CurrentValue.FormatterName);
    }

    private static int FleetBucketCount => Fleet.Core.Diagnostics.FleetMeter.DurationBuckets.Count;

    private static InboundReport Report(long vehicleId, long ts, uint seq) => new(
        vehicleId,
        new TelemetryFix { Ts = ts, Seq = seq, Lat = 40.84, Lon = 111.75, Spd = float.NaN, Hdg = -1, Alt = float.NaN, Odo = double.NaN, Fuel = float.NaN, Soc = float.NaN, Sats = -1, Hdop = float.NaN },
        ts,
        default);

    private static async Task<string> ScrapeAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/metrics", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync(Ct);
    }

    /// <summary>Each sample line as "name{labels}" → value.</summary>
    private static Dictionary<string, double> Parse(string text) => text
        .Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .Where(line => !line.StartsWith('#'))
        .Select(line => line.Split(' '))
        .ToDictionary(
            parts => parts[0],
            parts => parts[1] == "+Inf" ? double.PositiveInfinity : double.Parse(parts[1], CultureInfo.InvariantCulture),
            StringComparer.Ordinal);

    private static double Le(string sample)
    {
        var value = sample[(sample.IndexOf("le=\"", StringComparison.Ordinal) + 4)..sample.LastIndexOf('"')];
        return value == "+Inf" ? double.PositiveInfinity : double.Parse(value, CultureInfo.InvariantCulture);
    }

    private static HttpClient Remote(HttpClient client)
    {
        client.DefaultRequestHeaders.Add(PeerHeader, "203.0.113.9");
        return client;
    }

    /// <summary>Makes a request look like it came from the address in <see cref="PeerHeader"/>: Kestrel here only listens on loopback.</summary>
    private sealed class PeerOverride : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextMiddleware) =>
            {
                if (context.Request.Headers.TryGetValue(PeerHeader, out var peer))
                {
                    context.Connection.RemoteIpAddress = IPAddress.Parse(peer.ToString());
                }

                return nextMiddleware(context);
            });
            next(app);
        };
    }
}
