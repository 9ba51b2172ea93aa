using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Fleet.Gateway.Broker;
using Fleet.Gateway.Ingestion;
using Fleet.Gateway.Tests.Broker;
using Fleet.Mqtt.Client;
using Fleet.Mqtt.Protocol;
using Fleet.Silo.Grains;
using Fleet.Silo.Persistence;
using Fleet.Silo.Registry;
using Fleet.Silo.Shards;
using Fleet.TestSupport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fleet.Gateway.Tests.Ingestion;

/// <summary>
/// One ingestion test's world: a migrated database seeded with a demo registry of N terminals, a Mosquitto running on
/// the production password and ACL files generated from it (plus the gateway and simulator users), a started shard
/// host, and gateways created on demand. Disposes all of it.
/// </summary>
internal sealed class IngestionKit : IAsyncDisposable
{
    public const string GatewayUser = BrokerTestKit.GatewayUser;
    public const string SimulatorUser = BrokerTestKit.SimulatorUser;

    private readonly List<GatewayService> _gateways = [];
    private readonly List<MqttClient> _clients = [];
    private readonly ILoggerFactory _loggerFactory = LoggerFactory.Create(b => b.AddProvider(new TestOutputLoggerProvider()).SetMinimumLevel(LogLevel.Information));

    private IngestionKit(NpgsqlDataSource db, string directory, IReadOnlyList<DemoTerminalCredential> terminals)
    {
        Db = db;
        Directory = directory;
        Terminals = terminals;
    }

    public static CancellationToken Token => TestContext.Current.CancellationToken;

    public NpgsqlDataSource Db { get; }

    public string Directory { get; }

    /// <summary>The seeded terminals, each with its plaintext broker password and its vehicle.</summary>
    public IReadOnlyList<DemoTerminalCredential> Terminals { get; }

    public string GatewayPassword { get; } = BrokerTestKit.NewSecret();

    public string SimulatorPassword { get; } = BrokerTestKit.NewSecret();

    public MosquittoServer Broker { get; private set; } = null!;

    public ShardHost Host { get; private set; } = null!;

    /// <summary>Migrates <paramref name="db"/>, seeds <paramref name="terminals"/> vehicles with a terminal each, starts the broker and the shard host.</summary>
    public static async Task<IngestionKit> StartAsync(NpgsqlDataSource db, int terminals, SiloOptions? silo = null, ILiveStateSink? sink = null)
    {
        var stopwatch = Stopwatch.StartNew();
        await MigrationRunner.ApplyAsync(db, NullLogger.Instance, Token);
        var seeded = await DemoProvinceSeeder.SeedAsync(db, new DemoSeedOptions(terminals), null, Token);
        var directory = System.IO.Directory.CreateTempSubdirectory("fleet-ingest-").FullName;
        var kit = new IngestionKit(db, directory, seeded.Terminals);
        try
        {
            await kit.StartBrokerAsync();
            kit.Host = new ShardHost(
                db,
                new PositionWriter(db),
                Options.Create(silo ?? new SiloOptions { ShardCount = 8, FlushInterval = TimeSpan.FromMilliseconds(5), StoreRetryMaxDelay = TimeSpan.FromMilliseconds(250) }),
                sink ?? NullLiveStateSink.Instance,
                NullGeofenceLookup.Instance,
                TimeProvider.System,
                kit._loggerFactory.CreateLogger<ShardHost>());
            await kit.Host.StartAsync(Token);
            Log($"kit ready in {stopwatch.ElapsedMilliseconds} ms: {terminals} terminals, broker on {kit.Broker.Port}");
            return kit;
        }
        catch
        {
            await kit.DisposeAsync();
            throw;
        }
    }

    public static long NowMs => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    public static void Log(string line) => TestOutputLoggerProvider.Log(line);

    /// <summary>A terminal protocol v1 report.</summary>
    public static string Report(long ts, uint seq, double lat = 40.84, double lon = 111.75, double? spd = null, string? extra = null)
    {
        var text = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"{{\"ts\":{ts},\"seq\":{seq},\"lat\":{lat:0.#####},\"lon\":{lon:0.#####}");
        if (spd is { } speed)
        {
            text.Append(CultureInfo.InvariantCulture, $",\"spd\":{speed}");
        }

        if (extra is not null)
        {
            text.Append(',').Append(extra);
        }

        return text.Append('}').ToString();
    }

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    public static string TelemetryTopic(string terminalId) => $"fleet/v1/{terminalId}/telemetry";

    public static string StatusTopic(string terminalId) => $"fleet/v1/{terminalId}/status";

    public TerminalRegistry CreateRegistry() => new(Db, TimeProvider.System, _loggerFactory.CreateLogger<TerminalRegistry>());

    /// <summary>A gateway on this broker and shard host, not started; the kit stops it at the end if still running.</summary>
    public GatewayService CreateGateway(TerminalRegistry? registry = null, GatewayOptions? options = null, IMeterFactory? meterFactory = null)
    {
        var gateway = new GatewayService(
            Host,
            registry ?? CreateRegistry(),
            new TelemetryRejectStore(Db),
            Options.Create(options ?? new GatewayOptions { RetryMinDelay = TimeSpan.FromMilliseconds(50), RetryMaxDelay = TimeSpan.FromMilliseconds(500) }),
            Options.Create(new MqttConnectionOptions
            {
                Host = MosquittoServer.Host,
                Port = Broker.Port,
                Username = GatewayUser,
                Password = GatewayPassword,
                ClientId = "fleet-gateway",
            }),
            TimeProvider.System,
            _loggerFactory,
            meterFactory);
        _gateways.Add(gateway);
        return gateway;
    }

    /// <summary>Creates and starts a gateway and waits until it is connected and subscribed.</summary>
    public async Task<GatewayService> StartGatewayAsync(TerminalRegistry? registry = null, GatewayOptions? options = null, IMeterFactory? meterFactory = null)
    {
        var gateway = CreateGateway(registry, options, meterFactory);
        await gateway.StartAsync(Token);
        await EventuallyAsync(() => gateway.Health.Connected, TimeSpan.FromSeconds(15), "the gateway connects", gateway);
        return gateway;
    }

    /// <summary>Connects as a seeded terminal, with its own credentials (its id is the username and the client id).</summary>
    public Task<MqttClient> ConnectTerminalAsync(DemoTerminalCredential terminal) => ConnectAsync(terminal.TerminalId, terminal.Password, terminal.TerminalId);

    /// <summary>The simulator user may publish under any terminal id, registered or not.</summary>
    public Task<MqttClient> ConnectSimulatorAsync() => ConnectAsync(SimulatorUser, SimulatorPassword, "sim-" + BrokerTestKit.NewSecret()[..8]);

    public async Task<MqttClient> ConnectAsync(string username, string password, string clientId)
    {
        var client = new MqttClient(new MqttClientOptions
        {
            Host = MosquittoServer.Host,
            Port = Broker.Port,
            ClientId = clientId,
            ProtocolVersion = MqttProtocolVersion.V500,
            Username = username,
            Password = password,
            ConnectTimeout = TimeSpan.FromSeconds(10),
        });
        _clients.Add(client);
        await client.ConnectAsync(Token);
        return client;
    }

    /// <summary>Publishes at QoS 1 and checks the broker took it (an ACL refusal would show here at 5.0).</summary>
    public static async Task PublishAsync(MqttClient client, string topic, string payload, bool retain = false)
    {
        var result = await client.PublishAsync(topic, Utf8(payload), MqttQualityOfService.AtLeastOnce, retain, Token);
        Assert.True(result.IsSuccess, $"publish to {topic}: {result.ReasonName}");
    }

    public async Task<T> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var command = Db.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        var value = await command.ExecuteScalarAsync(Token);
        return value is null or DBNull ? default! : (T)value;
    }

    public async Task<int> ExecuteAsync(string sql, params object[] parameters)
    {
        await using var command = Db.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        return await command.ExecuteNonQueryAsync(Token);
    }

    public Task<long> PositionCountAsync() => ScalarAsync<long>("SELECT count(*) FROM positions");

    public VehicleLiveState Live(long vehicleId) =>
        Host.TryGetLiveState(vehicleId, out var state) ? state : throw new Xunit.Sdk.XunitException($"vehicle {vehicleId} has no live state");

    public Task EventuallyAsync(Func<bool> condition, TimeSpan timeout, string what, GatewayService? gateway = null) =>
        EventuallyAsync(() => Task.FromResult(condition()), timeout, what, gateway);

    public async Task EventuallyAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, GatewayService? gateway = null)
    {
        var stopwatch = Stopwatch.StartNew();
        while (!await condition())
        {
            if (stopwatch.Elapsed > timeout)
            {
                Assert.Fail($"Timed out after {timeout} waiting for: {what}\ngateway: {gateway?.Health}\nsilo: {Host.Health}\n--- mosquitto log (tail) ---\n{Tail(Broker.ReadLog(), 3000)}");
            }

            await Task.Delay(20, Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync();
        }

        foreach (var gateway in _gateways)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await gateway.StopAsync(timeout.Token);
            gateway.Dispose();
        }

        if (Host is not null)
        {
            await Host.DisposeAsync();
        }

        if (Broker is not null)
        {
            await Broker.DisposeAsync();
        }

        _loggerFactory.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string Tail(string text, int length) => text.Length <= length ? text : text[^length..];

    /// <summary>The production files from the seeded registry (BrokerConfigWriter), then a Mosquitto on them.</summary>
    private async Task StartBrokerAsync()
    {
        await BrokerTestKit.GiveToMosquittoAsync(Directory);
        var options = BrokerTestKit.CreateOptions(Directory, GatewayPassword, SimulatorPassword);
        using (var writer = new BrokerConfigWriter(Db, Options.Create(options), NullLogger<BrokerConfigWriter>.Instance, TimeProvider.System))
        {
            await writer.WriteAsync(Token);
        }

        Broker = await BrokerTestKit.StartMosquittoAsync(options);
    }
}
