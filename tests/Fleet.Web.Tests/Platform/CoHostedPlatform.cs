using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Fleet.Core.Security;
using Fleet.Mqtt.Client;
using Fleet.Mqtt.Protocol;
using Fleet.TestSupport;
using Microsoft.AspNetCore.Builder;
using Npgsql;

namespace Fleet.Web.Tests.Platform;

/// <summary>What a test class wants of <see cref="CoHostedPlatform"/> beyond the default.</summary>
public sealed record CoHostedPlatformOptions
{
    /// <summary>Vehicles (each with a terminal) the demo province seeds.</summary>
    public int SeedVehicles { get; init; } = 6;

    /// <summary>More host settings, e.g. the broker service users the host keeps in the files it generates.</summary>
    public IReadOnlyDictionary<string, string?> Settings { get; init; } = new Dictionary<string, string?>();
}

/// <summary>
/// The platform co-hosted as ./fleet up runs it, against a real Mosquitto: the broker starts on a password file
/// holding only the gateway user, and from then on knows exactly what the host writes from the terminals table;
/// the host's gateway reads from it into the shards. A small demo province gives the logins and a few seeded
/// terminals. One per test class.
/// </summary>
public sealed class CoHostedPlatform : IAsyncLifetime
{
    private readonly PostgresFixture _postgres;
    private readonly CoHostedPlatformOptions _options;
    private readonly string _directory = Directory.CreateTempSubdirectory("fleet-terminals-").FullName;
    private readonly string _gatewayPassword = Convert.ToHexString(RandomNumberGenerator.GetBytes(12));
    private readonly Dictionary<string, HttpClient> _sessions = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _sessionLock = new(1, 1);
    private WebApplication? _app;
    private int _clients;

    // xUnit builds a class fixture through its only public constructor; the internal one serves fixtures that wrap this.
    public CoHostedPlatform(PostgresFixture postgres)
        : this(postgres, new CoHostedPlatformOptions())
    {
    }

    internal CoHostedPlatform(PostgresFixture postgres, CoHostedPlatformOptions options)
    {
        _postgres = postgres;
        _options = options;
    }

    public NpgsqlDataSource Db { get; private set; } = null!;

    public MosquittoServer Broker { get; private set; } = null!;

    public string PidFile => BrokerFiles.PidFile(_directory);

    /// <summary>The demo credentials (users and seeded terminals) the host wrote when it seeded.</summary>
    public string CredentialsFile => Path.Combine(_directory, "demo-credentials.json");

    public Uri BaseAddress { get; private set; } = null!;

    public IServiceProvider Services => _app?.Services ?? throw new InvalidOperationException("The platform is not started.");

    public IReadOnlyDictionary<string, string> Passwords { get; private set; } = new Dictionary<string, string>();

    /// <summary>The seeded terminals in the credentials file's order, each bound to its own vehicle.</summary>
    public IReadOnlyList<(string Id, string Password, long VehicleId)> SeededTerminals { get; private set; } = [];

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        Db = await _postgres.CreateDatabaseAsync(cancellationToken: ct);
        var gatewayHash = MosquittoPasswordHash.Create(_gatewayPassword);
        Broker = await BrokerFiles.StartBrokerAsync(
            _directory,
            $"fleet-gateway:{gatewayHash}\n",
            "user fleet-gateway\ntopic read fleet/v1/+/telemetry\ntopic read fleet/v1/+/status\n",
            ct);

        var settings = new Dictionary<string, string?>
        {
            ["Fleet:Database:ConnectionString"] = Db.ConnectionString,
            ["Fleet:Demo:SeedVehicles"] = _options.SeedVehicles.ToString(CultureInfo.InvariantCulture),
            ["Fleet:Demo:CredentialsFile"] = CredentialsFile,
            ["Fleet:Broker:PasswordFile"] = BrokerFiles.PasswordFile(_directory),
            ["Fleet:Broker:AclFile"] = BrokerFiles.AclFile(_directory),
            ["Fleet:Broker:PidFile"] = PidFile,
            ["Fleet:Broker:GatewayPasswordHash"] = gatewayHash,
            ["Fleet:Broker:FileGroup"] = Environment.IsPrivilegedProcess ? "mosquitto" : "",
            ["Fleet:Mqtt:Host"] = MosquittoServer.Host,
            ["Fleet:Mqtt:Port"] = Broker.Port.ToString(CultureInfo.InvariantCulture),
            ["Fleet:Mqtt:Username"] = "fleet-gateway",
            ["Fleet:Mqtt:Password"] = _gatewayPassword,
            ["Fleet:Auth:LoginPermitsPerMinute"] = "1000",
        };
        foreach (var (key, value) in _options.Settings)
        {
            settings[key] = value;
        }

        _app = FleetHost.Build(settings);
        await _app.StartAsync(ct);
        BaseAddress = new Uri(_app.Urls.First());

        using var credentials = JsonDocument.Parse(await File.ReadAllTextAsync(CredentialsFile, ct));
        Passwords = credentials.RootElement.GetProperty("users").EnumerateArray()
            .ToDictionary(u => u.GetProperty("username").GetString()!, u => u.GetProperty("password").GetString()!, StringComparer.Ordinal);
        SeededTerminals = [.. credentials.RootElement.GetProperty("terminals").EnumerateArray()
            .Select(t => (t.GetProperty("terminalId").GetString()!, t.GetProperty("password").GetString()!, t.GetProperty("vehicleId").GetInt64()))];
    }

    /// <summary>A logged-in session (own cookie jar) for a demo user, created on first use.</summary>
    public async Task<HttpClient> SessionAsync(string username, CancellationToken ct)
    {
        await _sessionLock.WaitAsync(ct);
        try
        {
            if (!_sessions.TryGetValue(username, out var client))
            {
                client = Anonymous();
                var login = await client.LoginAsync(username, Passwords[username], ct);
                Assert.Equal(HttpStatusCode.OK, login.Status);
                _sessions[username] = client;
            }

            return client;
        }
        finally
        {
            _sessionLock.Release();
        }
    }

    /// <summary>A client without a session; the caller disposes it.</summary>
    public HttpClient Anonymous() => new(new Security.AntiforgeryTokenHandler(new HttpClientHandler { CookieContainer = new CookieContainer(), UseCookies = true, AllowAutoRedirect = false }))
    {
        BaseAddress = BaseAddress,
        Timeout = TimeSpan.FromSeconds(30),
    };

    /// <summary>Connects as a terminal (MQTT 5, no reconnect); a refusal throws <see cref="MqttConnectException"/>.</summary>
    public async Task<MqttClient> ConnectAsync(string terminalId, string password, CancellationToken ct)
    {
        // A fresh client id each time, so a new connection never takes over an older one: the ACL keys on the username.
        var client = new MqttClient(new MqttClientOptions
        {
            Host = MosquittoServer.Host,
            Port = Broker.Port,
            ClientId = string.Create(CultureInfo.InvariantCulture, $"{terminalId}-{Interlocked.Increment(ref _clients)}"),
            Username = terminalId,
            Password = password,
            ProtocolVersion = MqttProtocolVersion.V500,
            AutoReconnect = false,
            ConnectTimeout = TimeSpan.FromSeconds(5),
        });
        try
        {
            await client.ConnectAsync(ct);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>Retries until the broker accepts the credentials: it learns them when the host's sync reloads it.</summary>
    public Task<MqttClient> ConnectWhenAcceptedAsync(string terminalId, string password, CancellationToken ct) =>
        ConnectWhenAcceptedAsync(terminalId, password, TimeSpan.FromSeconds(10), ct);

    /// <summary>Retries for up to <paramref name="within"/> until the broker accepts the credentials.</summary>
    public async Task<MqttClient> ConnectWhenAcceptedAsync(string terminalId, string password, TimeSpan within, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.Add(within);
        while (true)
        {
            try
            {
                return await ConnectAsync(terminalId, password, ct);
            }
            catch (MqttConnectException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100, ct);
            }
        }
    }

    /// <summary>Retries until the broker refuses the credentials; returns the refusal.</summary>
    public async Task<MqttConnectException> ConnectWhenRefusedAsync(string terminalId, string password, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            try
            {
                await using var accepted = await ConnectAsync(terminalId, password, ct);
            }
            catch (MqttConnectException refused)
            {
                return refused;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the broker still accepts {terminalId} with that password after 10 s");
            await Task.Delay(100, ct);
        }
    }

    /// <summary>A QoS 1 report on the terminal's own topic (or another's), and the broker's PUBACK.</summary>
    public static ValueTask<MqttPublishResult> PublishReportAsync(MqttClient client, string topicTerminalId, CancellationToken ct)
    {
        var payload = string.Create(CultureInfo.InvariantCulture, $$"""{"ts":{{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}},"seq":1,"lat":40.84,"lon":111.75,"spd":30.5,"acc":true}""");
        return client.PublishAsync($"fleet/v1/{topicTerminalId}/telemetry", Encoding.UTF8.GetBytes(payload), MqttQualityOfService.AtLeastOnce, cancellationToken: ct);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var session in _sessions.Values)
        {
            session.Dispose();
        }

        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        if (Broker is not null)
        {
            await Broker.DisposeAsync();
        }

        _sessionLock.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}

/// <summary>JSON requests for the terminal API, read whole like <see cref="Api.GetApiAsync"/>.</summary>
internal static class TerminalApiCalls
{
    public static async Task<ApiResponse> SendJsonAsync(this HttpClient client, HttpMethod method, string url, object? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, url) { Content = body is null ? null : JsonContent.Create(body) };
        using var response = await client.SendAsync(request, ct);
        return await ApiResponse.ReadAsync(response, ct);
    }

    /// <summary>A body sent as given, for malformed JSON.</summary>
    public static async Task<ApiResponse> SendRawAsync(this HttpClient client, HttpMethod method, string url, string body, string mediaType, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, url) { Content = new StringContent(body, Encoding.UTF8, mediaType) };
        using var response = await client.SendAsync(request, ct);
        return await ApiResponse.ReadAsync(response, ct);
    }
}
