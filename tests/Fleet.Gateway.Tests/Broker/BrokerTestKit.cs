using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Fleet.Core.Security;
using Fleet.Gateway.Broker;
using Fleet.Mqtt.Client;
using Fleet.Mqtt.Protocol;
using Fleet.Silo.Persistence;
using Fleet.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Fleet.Gateway.Tests.Broker;

/// <summary>A received message copied out of its batch, for assertions.</summary>
internal sealed record ReceivedMessage(string Topic, string Payload);

/// <summary>
/// One test's world: a migrated database, a folder for the generated broker files (the broker's pid file goes there
/// too), service users with fresh passwords, and, on demand, a Mosquitto running on those files and a host running
/// <see cref="BrokerServiceCollectionExtensions.AddFleetBroker"/>.
/// </summary>
internal sealed class BrokerTestKit : IAsyncDisposable
{
    public const string GatewayUser = "fleet-gateway";
    public const string SimulatorUser = "fleet-simulator";

    private static int _counter;
    private IHost? _host;

    private BrokerTestKit(NpgsqlDataSource db, string directory)
    {
        Db = db;
        Directory = directory;
        Options = CreateOptions(directory, GatewayPassword, SimulatorPassword);
        Options.DebounceMilliseconds = 100;
    }

    public static CancellationToken Token => TestContext.Current.CancellationToken;

    public NpgsqlDataSource Db { get; }

    public string Directory { get; }

    public BrokerOptions Options { get; }

    public string GatewayPassword { get; } = NewSecret();

    public string SimulatorPassword { get; } = NewSecret();

    public MosquittoServer? Broker { get; private set; }

    public IServiceProvider Services => _host?.Services ?? throw new InvalidOperationException("The host is not started.");

    public static async Task<BrokerTestKit> CreateAsync(PostgresFixture postgres)
    {
        var db = await postgres.CreateDatabaseAsync(cancellationToken: Token);
        await MigrationRunner.ApplyAsync(db, NullLogger.Instance, Token);
        var directory = System.IO.Directory.CreateTempSubdirectory("fleet-broker-").FullName;
        await GiveToMosquittoAsync(directory);
        return new BrokerTestKit(db, directory);
    }

    /// <summary>Mosquitto drops to its own user when started as root, which must enter the folder and write its pid file there.</summary>
    public static async Task GiveToMosquittoAsync(string directory)
    {
        if (Environment.IsPrivilegedProcess)
        {
            var chown = await MosquittoProcessRunner.RunAsync("chown", ["mosquitto:mosquitto", directory], TimeSpan.FromSeconds(10), Token);
            Assert.True(chown.ExitCode == 0, chown.StandardError);
        }
    }

    /// <summary>Broker files in <paramref name="directory"/> (the pid file too) for the gateway and simulator users with these passwords.</summary>
    public static BrokerOptions CreateOptions(string directory, string gatewayPassword, string simulatorPassword) => new()
    {
        PasswordFile = Path.Combine(directory, "passwd"),
        AclFile = Path.Combine(directory, "acl"),
        PidFile = Path.Combine(directory, "mosquitto.pid"),
        GatewayUsername = GatewayUser,
        GatewayPasswordHash = MosquittoPasswordHash.Create(gatewayPassword),
        SimulatorUsername = SimulatorUser,
        SimulatorPasswordHash = MosquittoPasswordHash.Create(simulatorPassword),
        // Root gives the files to the mosquitto user as ./fleet up would; anyone else keeps them and runs Mosquitto as itself.
        FileGroup = Environment.IsPrivilegedProcess ? "mosquitto" : "",
    };

    /// <summary>Starts Mosquitto on the files of <paramref name="options"/>, which must already exist.</summary>
    public static Task<MosquittoServer> StartMosquittoAsync(BrokerOptions options) => MosquittoServer.StartAsync(
        new MosquittoServerOptions
        {
            ExternalPasswordFile = options.PasswordFile,
            ExternalAclFile = options.AclFile,
            ExtraConfig = [$"pid_file {options.PidFile}"],
        },
        Token);

    public static string NewSecret() => Convert.ToHexString(RandomNumberGenerator.GetBytes(12));

    public static string UniqueId(string prefix) =>
        string.Create(CultureInfo.InvariantCulture, $"{prefix}-{Interlocked.Increment(ref _counter)}-{Guid.NewGuid():N}")[..(prefix.Length + 12)];

    public BrokerConfigWriter CreateWriter() => new(
        Db,
        Microsoft.Extensions.Options.Options.Create(Options),
        NullLogger<BrokerConfigWriter>.Instance,
        TimeProvider.System);

    /// <summary>Starts Mosquitto on the generated files, which must already exist.</summary>
    public async Task<MosquittoServer> StartBrokerAsync()
    {
        Broker = await StartMosquittoAsync(Options);
        return Broker;
    }

    /// <summary>A host as the web app would build it: configuration bound from Fleet:Broker, the data source, AddFleetBroker.</summary>
    public async Task<IServiceProvider> StartHostAsync()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Fleet:Broker:PasswordFile"] = Options.PasswordFile,
            ["Fleet:Broker:AclFile"] = Options.AclFile,
            ["Fleet:Broker:PidFile"] = Options.PidFile,
            ["Fleet:Broker:GatewayPasswordHash"] = Options.GatewayPasswordHash,
            ["Fleet:Broker:SimulatorPasswordHash"] = Options.SimulatorPasswordHash,
            ["Fleet:Broker:FileGroup"] = Options.FileGroup,
            ["Fleet:Broker:DebounceMilliseconds"] = Options.DebounceMilliseconds.ToString(CultureInfo.InvariantCulture),
        });
        builder.Logging.AddProvider(new TestOutputLoggerProvider());
        builder.Services.AddSingleton(Db);
        builder.Services.AddFleetBroker(builder.Configuration);
        _host = builder.Build();
        await _host.StartAsync(Token);
        return _host.Services;
    }

    public async Task AddTerminalAsync(string id, string password, bool enabled = true)
    {
        await using var command = Db.CreateCommand("INSERT INTO terminals (id, credential_hash, enabled) VALUES ($1, $2, $3)");
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        command.Parameters.Add(new NpgsqlParameter { Value = MosquittoPasswordHash.Create(password) });
        command.Parameters.Add(new NpgsqlParameter { Value = enabled });
        await command.ExecuteNonQueryAsync(Token);
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

    public async Task<T> ExecuteScalarAsync<T>(string sql)
    {
        await using var command = Db.CreateCommand(sql);
        return (T)(await command.ExecuteScalarAsync(Token))!;
    }

    public MqttClientOptions ClientOptions(string username, string password, MqttProtocolVersion version = MqttProtocolVersion.V500) => new()
    {
        Host = MosquittoServer.Host,
        Port = Broker?.Port ?? throw new InvalidOperationException("The broker is not started."),
        ClientId = UniqueId("c"),
        ProtocolVersion = version,
        Username = username,
        Password = password,
        ConnectTimeout = TimeSpan.FromSeconds(5),
        AutoReconnect = false,
    };

    public async Task<MqttClient> ConnectAsync(string username, string password, MqttProtocolVersion version = MqttProtocolVersion.V500)
    {
        var client = new MqttClient(ClientOptions(username, password, version));
        try
        {
            await client.ConnectAsync(Token);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>Null when the broker accepted the credentials, else the CONNACK's refusal.</summary>
    public async Task<MqttConnectException?> TryConnectAsync(string username, string password)
    {
        try
        {
            await using var client = await ConnectAsync(username, password);
            return null;
        }
        catch (MqttConnectException refused)
        {
            return refused;
        }
    }

    public async Task<TimeSpan> EventuallyAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var stopwatch = Stopwatch.StartNew();
        while (!await condition())
        {
            if (stopwatch.Elapsed > timeout)
            {
                Assert.Fail($"Timed out after {timeout} waiting for: {what}\n--- mosquitto log ---\n{Broker?.ReadLog()}");
            }

            await Task.Delay(50, Token);
        }

        return stopwatch.Elapsed;
    }

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>Reads until <paramref name="count"/> messages arrived, then whatever else comes within <paramref name="linger"/>.</summary>
    public static async Task<List<ReceivedMessage>> ReceiveAsync(MqttClient client, int count, TimeSpan timeout, TimeSpan linger)
    {
        var messages = new List<ReceivedMessage>();
        using (var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(Token))
        {
            timeoutSource.CancelAfter(timeout);
            try
            {
                while (messages.Count < count)
                {
                    using var batch = await client.ReadBatchAsync(timeoutSource.Token);
                    messages.AddRange(Copy(batch));
                }
            }
            catch (OperationCanceledException) when (!Token.IsCancellationRequested)
            {
                Assert.Fail($"Received {messages.Count} of {count} messages within {timeout}: {string.Join(", ", messages)}");
            }
        }

        using var lingerSource = CancellationTokenSource.CreateLinkedTokenSource(Token);
        lingerSource.CancelAfter(linger);
        try
        {
            while (true)
            {
                using var batch = await client.ReadBatchAsync(lingerSource.Token);
                messages.AddRange(Copy(batch));
            }
        }
        catch (OperationCanceledException) when (!Token.IsCancellationRequested)
        {
            return messages;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.StopAsync(CancellationToken.None);
            _host.Dispose();
        }

        if (Broker is not null)
        {
            await Broker.DisposeAsync();
        }

        await Db.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static List<ReceivedMessage> Copy(MqttReceivedBatch batch)
    {
        var list = new List<ReceivedMessage>(batch.Count);
        foreach (var message in batch)
        {
            list.Add(new ReceivedMessage(message.Topic, Encoding.UTF8.GetString(message.Payload.Span)));
        }

        return list;
    }
}
