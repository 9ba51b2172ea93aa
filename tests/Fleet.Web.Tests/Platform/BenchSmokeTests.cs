using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Fleet.Core.Security;
using Fleet.Simulator.Suite;
using Fleet.TestSupport;

namespace Fleet.Web.Tests.Platform;

/// <summary>
/// The benchmark harness (./fleet bench) at a reduced scale against the co-hosted platform and a real Mosquitto and
/// PostgreSQL: every scenario runs, its figures are there, persisted equals sent, the hub client sees latency samples
/// and the result files are written. Timing is printed, never asserted: CI machines are slow and shared.
/// </summary>
public sealed class BenchSmokeTests(BenchPlatform platform, ITestOutputHelper output) : IClassFixture<BenchPlatform>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 300_000)]
    public async Task The_suite_runs_every_scenario_at_reduced_scale_with_nothing_lost_and_writes_its_results()
    {
        var results = Directory.CreateTempSubdirectory("fleet-bench-results-").FullName;
        try
        {
            var options = platform.SuiteOptions(results);
            using var log = new StringWriter(CultureInfo.InvariantCulture);
            SuiteResult result;
            await using (var suite = new BenchSuite(options, TextWriter.Synchronized(log)))
            {
                result = await suite.RunAsync(Ct);
            }

            var paths = await SuiteReport.WriteAsync(result, results, Ct);
            output.WriteLine(log.ToString());
            output.WriteLine(SuiteReport.Table(result));

            var baseline = Assert.IsType<BaselineResult>(result.Baseline);
            Assert.True(baseline.Paced.Sent > 0, "the baseline sent nothing");
            Assert.Equal(baseline.Paced.Sent, baseline.Paced.Persisted);
            Assert.True(baseline.Paced.Latency.Samples > 0, "the baseline subscriber took no latency sample");
            Assert.True(baseline.CeilingRate > 0, "no broker ceiling measured");

            Assert.Equal([SuiteOptions.SteadyName, SuiteOptions.FleetName], result.Scenarios.Select(s => s.Name));
            var ramp = Assert.IsType<RampResult>(result.Ramp);
            Assert.NotEmpty(ramp.Steps);
            foreach (var scenario in result.Scenarios.Concat(ramp.Steps))
            {
                Assert.True(scenario.Sent > 0, $"{scenario.Name} sent nothing");
                Assert.Equal(scenario.Sent, scenario.Persisted);
                Assert.Equal(0, scenario.Duplicated);
                Assert.Equal(0, scenario.Rejected);
                Assert.Equal(0, scenario.Errors);
                Assert.True(scenario.Latency.Samples > 0, $"{scenario.Name}: no report reached the hub client");
                Assert.True(scenario.HubFramesPerSecond > 0 && scenario.HubBytesPerSecond > 0, $"{scenario.Name}: no hub frames counted");
                Assert.True(scenario.DbRowsPerSecond > 0, $"{scenario.Name}: no rows counted in the measured window");
                Assert.NotNull(scenario.Cpu.Fleet);
                Assert.NotNull(scenario.Cpu.Mosquitto);
                Assert.NotNull(scenario.Cpu.Postgres);
                Assert.NotNull(scenario.FleetPeakRssMiB);
            }

            Assert.Contains(result.Targets, t => t.Scenario == SuiteOptions.RampName);
            foreach (var path in paths)
            {
                Assert.True(new FileInfo(path).Length > 0, $"{path} is empty");
            }

            using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(results, "latest.json"), Ct));
            Assert.Equal(2, json.RootElement.GetProperty("scenarios").GetArrayLength());
            Assert.Contains("<svg", await File.ReadAllTextAsync(Path.Combine(results, "latest.html"), Ct), StringComparison.Ordinal);
            Assert.Contains(SuiteOptions.SteadyName, await File.ReadAllTextAsync(Path.Combine(results, "latest.md"), Ct), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(results, recursive: true);
        }
    }
}

/// <summary>
/// The co-hosted platform as ./fleet bench runs it, at CI scale: a few hundred seeded vehicles, the simulator's
/// load-mode user and the baseline's broker user kept in the files the host generates.
/// </summary>
public sealed class BenchPlatform(PostgresFixture postgres) : IAsyncLifetime
{
    public const int Vehicles = 300;
    private const string BenchUser = "fleet-bench";

    private readonly string _simulatorPassword = Convert.ToHexString(RandomNumberGenerator.GetBytes(12));
    private readonly string _benchPassword = Convert.ToHexString(RandomNumberGenerator.GetBytes(12));
    private CoHostedPlatform? _platform;

    private CoHostedPlatform Platform => _platform ?? throw new InvalidOperationException("The platform is not started.");

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _platform = new CoHostedPlatform(postgres, new CoHostedPlatformOptions
        {
            SeedVehicles = Vehicles,
            Settings = new Dictionary<string, string?>
            {
                ["Fleet:Broker:SimulatorPasswordHash"] = MosquittoPasswordHash.Create(_simulatorPassword),
                ["Fleet:Broker:AdminUsername"] = BenchUser,
                ["Fleet:Broker:AdminPasswordHash"] = MosquittoPasswordHash.Create(_benchPassword),
            },
        });
        await _platform.InitializeAsync();

        // The host rewrites the broker's files from the registry and reloads it; the service users work once it has.
        await WaitUntilAcceptedAsync(BenchUser, _benchPassword, ct);
        await WaitUntilAcceptedAsync("fleet-simulator", _simulatorPassword, ct);
    }

    /// <summary>The suite's options at CI scale (about 20 s of scenarios), measuring this process as Fleet.</summary>
    public SuiteOptions SuiteOptions(string outputDirectory) => new()
    {
        Host = MosquittoServer.Host,
        Port = Platform.Broker.Port,
        LoadUsername = "fleet-simulator",
        LoadPassword = _simulatorPassword,
        BenchUsername = BenchUser,
        BenchPassword = _benchPassword,
        Database = Platform.Db.ConnectionString,
        HubBaseAddress = Platform.BaseAddress,
        HubUsername = "supervisor",
        HubPassword = Platform.Passwords["supervisor"],
        CredentialsPath = Platform.CredentialsFile,
        FleetPid = Environment.ProcessId,
        MosquittoPid = int.Parse(File.ReadAllText(Platform.PidFile).Trim(), CultureInfo.InvariantCulture),
        PostgresPid = int.Parse(File.ReadLines(Path.Combine(postgres.Server.RootDirectory, "data", "postmaster.pid")).First(), CultureInfo.InvariantCulture),
        OutputDirectory = outputDirectory,
        SteadyVehicles = Vehicles,
        FleetVehicles = Vehicles,
        FleetInterval = TimeSpan.FromSeconds(2),
        Warmup = TimeSpan.FromSeconds(2),
        SteadyDuration = TimeSpan.FromSeconds(4),
        FleetDuration = TimeSpan.FromSeconds(3),
        BaselineDuration = TimeSpan.FromSeconds(3),
        CeilingDuration = TimeSpan.FromSeconds(2),
        RampStartRate = Vehicles,
        RampStepDuration = TimeSpan.FromSeconds(3),
        RampMaxSteps = 2,
        Settle = TimeSpan.FromSeconds(1),
    };

    public async ValueTask DisposeAsync()
    {
        if (_platform is not null)
        {
            await _platform.DisposeAsync();

            // Its pool's connections go now rather than when the assembly's PostgreSQL stops.
            if (_platform.Db is { } db)
            {
                await db.DisposeAsync();
            }
        }
    }

    private async Task WaitUntilAcceptedAsync(string username, string password, CancellationToken ct)
    {
        await using var client = await Platform.ConnectWhenAcceptedAsync(username, password, TimeSpan.FromSeconds(30), ct);
        await client.DisconnectAsync(ct);
    }
}
