using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Fleet.Core.Security;
using Fleet.Simulator.Fleet;
using Fleet.Simulator.Running;
using Fleet.TestSupport;
using Fleet.Web.Tests.Platform;
using Npgsql;

namespace Fleet.Web.Tests.Faults;

/// <summary>
/// Everything a fault-injection test breaks, each its own process so it can be killed or restarted: a private
/// PostgreSQL (not the assembly's shared one: stopping that would break every other test), a Mosquitto whose
/// password and ACL files the host keeps in sync, the Fleet host as a child process with a seeded demo province of
/// <see cref="Vehicles"/> vehicles, and the simulator driving them at 1 Hz over a few load connections. One per test
/// class; each test runs its own load with its own <see cref="DeliveryLedger"/>.
/// </summary>
public sealed class FaultRig : IAsyncLifetime
{
    /// <summary>Vehicles in the seeded registry, all driven by the simulator at 1 Hz.</summary>
    public const int Vehicles = 2000;

    private const string GatewayUser = "fleet-gateway";
    private const string SimulatorUser = "fleet-simulator";

    private readonly string _directory = Directory.CreateTempSubdirectory("fleet-faults-").FullName;
    private readonly string _gatewayPassword = Convert.ToHexString(RandomNumberGenerator.GetBytes(12));
    private readonly string _simulatorPassword = Convert.ToHexString(RandomNumberGenerator.GetBytes(12));

    internal PostgresServer Postgres { get; private set; } = null!;

    internal MosquittoServer Broker { get; private set; } = null!;

    internal FleetProcess Host { get; private set; } = null!;

    internal IReadOnlyList<VehicleProfile> Profiles { get; private set; } = [];

    internal IReadOnlyDictionary<string, long> VehicleOfTerminal { get; private set; } = new Dictionary<string, long>();

    /// <summary>The demo users' passwords, from the credentials file the host wrote when it seeded.</summary>
    internal IReadOnlyDictionary<string, string> Passwords { get; private set; } = new Dictionary<string, string>();

    /// <summary>The host's database, as the superuser; unpooled, so a PostgreSQL restart leaves no dead connections behind.</summary>
    internal string ConnectionString { get; private set; } = "";

    /// <summary>How long starting everything took, seeding included.</summary>
    internal TimeSpan StartupTime { get; private set; }

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        var stopwatch = Stopwatch.StartNew();
        Postgres = await PostgresServer.StartAsync(ct);
        var admin = Postgres.CreateConnectionStringBuilder();
        admin.Pooling = false;
        await using (var connection = new NpgsqlConnection(admin.ConnectionString))
        {
            await connection.OpenAsync(ct);
            await using var create = new NpgsqlCommand("CREATE DATABASE fleet", connection);
            await create.ExecuteNonQueryAsync(ct);
        }

        var database = Postgres.CreateConnectionStringBuilder("fleet");
        database.Pooling = false;
        ConnectionString = database.ConnectionString;

        var gatewayHash = MosquittoPasswordHash.Create(_gatewayPassword);
        var simulatorHash = MosquittoPasswordHash.Create(_simulatorPassword);

        // What the host's broker sync writes anyway; the broker needs the two service users before the host runs.
        Broker = await BrokerFiles.StartBrokerAsync(
            _directory,
            $"{GatewayUser}:{gatewayHash}\n{SimulatorUser}:{simulatorHash}\n",
            $"user {GatewayUser}\ntopic read fleet/v1/+/telemetry\ntopic read fleet/v1/+/status\n\nuser {SimulatorUser}\ntopic write fleet/v1/+/telemetry\ntopic write fleet/v1/+/status\n",
            ct);

        var credentialsFile = Path.Combine(_directory, "demo-credentials.json");
        Host = new FleetProcess(
            new Dictionary<string, string>
            {
                ["Fleet:Database:ConnectionString"] = Postgres.CreateConnectionStringBuilder("fleet").ConnectionString,
                ["Fleet:Demo:SeedVehicles"] = Vehicles.ToString(CultureInfo.InvariantCulture),
                ["Fleet:Demo:CredentialsFile"] = credentialsFile,
                ["Fleet:Broker:PasswordFile"] = BrokerFiles.PasswordFile(_directory),
                ["Fleet:Broker:AclFile"] = BrokerFiles.AclFile(_directory),
                ["Fleet:Broker:PidFile"] = BrokerFiles.PidFile(_directory),
                ["Fleet:Broker:GatewayPasswordHash"] = gatewayHash,
                ["Fleet:Broker:SimulatorPasswordHash"] = simulatorHash,
                ["Fleet:Broker:FileGroup"] = Environment.IsPrivilegedProcess ? "mosquitto" : "",
                ["Fleet:Mqtt:Host"] = MosquittoServer.Host,
                ["Fleet:Mqtt:Port"] = Broker.Port.ToString(CultureInfo.InvariantCulture),
                ["Fleet:Mqtt:Username"] = GatewayUser,
                ["Fleet:Mqtt:Password"] = _gatewayPassword,
                ["Fleet:Auth:LoginPermitsPerMinute"] = "1000",

                // The SIGKILL test kills after about 10 s of load and needs live-state snapshots by then; the default
                // interval (15 s) may not have come round yet.
                ["Fleet:Silo:SnapshotInterval"] = "00:00:05",
                ["Logging:LogLevel:Default"] = "Warning",
                ["Logging:LogLevel:Fleet.Silo.Shards.ShardHost"] = "Information",
                ["Logging:LogLevel:Fleet.Gateway"] = "Information",

                // The gateway's client logs its reconnects, with whether the broker still had its session.
                ["Logging:LogLevel:Fleet.Mqtt"] = "Information",
            },
            Path.Combine(_directory, "fleet-web.log"));
        await Host.StartAsync(ct);

        var terminals = await FleetLoader.ReadCredentialsAsync(credentialsFile, ct);
        Assert.Equal(Vehicles, terminals.Count);
        (Profiles, _) = await FleetLoader.BuildProfilesAsync(terminals, ConnectionString, RoadNetworkSeed, ct);
        VehicleOfTerminal = terminals.ToDictionary(t => t.TerminalId, t => t.VehicleId, StringComparer.Ordinal);
        using (var credentials = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(credentialsFile, ct)))
        {
            Passwords = credentials.RootElement.GetProperty("users").EnumerateArray()
                .ToDictionary(u => u.GetProperty("username").GetString()!, u => u.GetProperty("password").GetString()!, StringComparer.Ordinal);
        }

        StartupTime = stopwatch.Elapsed;
    }

    private static int RoadNetworkSeed => Fleet.Core.Roads.RoadNetworkGenerator.DefaultSeed;

    /// <summary>Starts the simulator on every vehicle at 1 Hz; every publish outcome goes to <paramref name="ledger"/>.</summary>
    internal LoadRun StartLoad(DeliveryLedger ledger)
    {
        var options = new SimulationOptions
        {
            Host = MosquittoServer.Host,
            Port = Broker.Port,
            Interval = TimeSpan.FromSeconds(1),
            OwnConnections = 0,
            LoadUsername = SimulatorUser,
            LoadPassword = _simulatorPassword,
            LoadConnections = 4,
            StatsEvery = TimeSpan.FromSeconds(10),

            // Generous: after a broker restart the tail waits for the reconnect and the resend.
            DrainTimeout = TimeSpan.FromSeconds(60),
            Label = "faults",
            OnTelemetryOutcome = ledger.Record,
        };
        var output = new StringWriter(CultureInfo.InvariantCulture);
        return new LoadRun(new SimulationRunner(Profiles, options, TextWriter.Synchronized(output)), output);
    }

    /// <summary>An unpooled connection to the host's database.</summary>
    internal async Task<NpgsqlConnection> OpenAsync(CancellationToken ct)
    {
        var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync(ct);
        return connection;
    }

    /// <summary>
    /// Waits until every acknowledged report of <paramref name="ledger"/> is in <c>positions</c> (the platform drains
    /// what the broker kept for it), or <paramref name="timeout"/> passes; returns the last check.
    /// </summary>
    internal async Task<(LedgerCheck Check, TimeSpan Waited)> WaitUntilStoredAsync(DeliveryLedger ledger, TimeSpan timeout, CancellationToken ct)
    {
        var stopwatch = Stopwatch.StartNew();
        while (true)
        {
            LedgerCheck check;
            await using (var connection = await OpenAsync(ct))
            {
                check = await ledger.CheckAsync(connection, ct);
            }

            if (check.Missing == 0 || stopwatch.Elapsed > timeout)
            {
                return (check, stopwatch.Elapsed);
            }

            await Task.Delay(TimeSpan.FromSeconds(1), ct);
        }
    }

    /// <summary>A metric from /metrics summed over its labels, or null when the host does not answer or has no such metric.</summary>
    internal async Task<double?> ReadMetricAsync(string name, CancellationToken ct)
    {
        if (await Host.TryScrapeAsync(ct) is not { } values)
        {
            return null;
        }

        var series = values.Where(v => v.Key == name || v.Key.StartsWith(name + "{", StringComparison.Ordinal)).ToList();
        return series.Count == 0 ? null : series.Sum(v => v.Value);
    }

    public async ValueTask DisposeAsync()
    {
        if (Host is not null)
        {
            await Host.DisposeAsync();
        }

        if (Broker is not null)
        {
            await Broker.DisposeAsync();
        }

        if (Postgres is not null)
        {
            await Postgres.DisposeAsync();
        }

        if (Environment.GetEnvironmentVariable("FLEET_KEEP_TEST_DIRS") != "1")
        {
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}

/// <summary>A simulator run in the background; <see cref="StopAsync"/> stops the schedule and waits for the tail's acknowledgements.</summary>
internal sealed class LoadRun : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly StringWriter _output;
    private readonly Task<SimulationSummary> _run;

    public LoadRun(SimulationRunner runner, StringWriter output)
    {
        _output = output;
        Runner = runner;
        _run = Task.Run(() => runner.RunAsync(_stop.Token));
    }

    public SimulationRunner Runner { get; }

    /// <summary>What the simulator printed (its stats lines).</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public async Task<SimulationSummary> StopAsync()
    {
        await _stop.CancelAsync();
        return await _run;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_run.IsCompleted)
        {
            await _stop.CancelAsync();
            try
            {
                await _run;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // Already failing; the test reports its own assertion.
            }
        }

        _stop.Dispose();
    }
}

/// <summary>The figures every fault test prints.</summary>
internal static class FaultReport
{
    /// <param name="duplicatesDropped">The gateway's duplicate metric (recent (terminal, ts, seq) seen again) over the test.</param>
    /// <param name="storeDuplicates">Positions found already stored when written (redelivered after a commit whose acknowledgement was lost).</param>
    public static string Format(string fault, SimulationSummary summary, DeliveryLedger ledger, LedgerCheck check, double? duplicatesDropped, double? storeDuplicates, TimeSpan downtime, TimeSpan drained) =>
        new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"[{fault}] vehicles={summary.Vehicles} sent={ledger.ReportsSent} acked={check.Acked} stored={check.AckedRows} ")
            .Append(CultureInfo.InvariantCulture, $"missing={check.Missing} rows={check.Rows} distinct={check.DistinctKeys} failed-publishes={ledger.FailedPublishes} ")
            .Append(CultureInfo.InvariantCulture, $"duplicates-dropped={Figure(duplicatesDropped)} store-duplicates={Figure(storeDuplicates)} ")
            .Append(CultureInfo.InvariantCulture, $"downtime={downtime.TotalSeconds:F1}s drained-in={drained.TotalSeconds:F1}s sim-behind={summary.Behind}")
            .ToString();

    private static string Figure(double? value) => value is { } v ? v.ToString("0", CultureInfo.InvariantCulture) : "n/a";
}
