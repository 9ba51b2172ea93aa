using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Fleet.TestSupport;
using Fleet.Web.Auth;
using Fleet.Web.Live;
using Fleet.Web.Tests.SignalR;
using Microsoft.Extensions.DependencyInjection;

namespace Fleet.Web.Tests.Security;

/// <summary>
/// A <see cref="SeededFleet"/> of its own (the matrix and the bad-input walk change terminals and end sessions, so
/// they do not share a database with other classes), plus what those tests need on top: the matrix samples resolved,
/// each user's session with its antiforgery token, and the live registry caught up with the seed.
/// </summary>
public sealed partial class SecurityFleet(PostgresFixture postgres) : IAsyncLifetime
{
    private readonly SeededFleet _fleet = new(postgres);
    private readonly Dictionary<string, (HttpClient Client, string Token)> _sessions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _cookies = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _lock = new(1, 1);

    public SeededFleet Fleet => _fleet;

    internal FleetHost Host => _fleet.Host;

    public IReadOnlyDictionary<string, string> Samples { get; private set; } = new Dictionary<string, string>();

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        await _fleet.InitializeAsync();
        var samples = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, sql) in AccessMatrix.Samples)
        {
            await using var command = _fleet.Db.CreateCommand(sql);
            var value = await command.ExecuteScalarAsync(ct);
            samples[name] = value is null or DBNull
                ? throw new InvalidOperationException($"Sample '{name}' found nothing: {sql}")
                : Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)!;
        }

        Samples = samples;

        // The hub judges departments by the live registry, which learns of the seed through notifications.
        var registry = Host.Services.GetRequiredService<LiveRegistry>();
        var vehicles = (await _fleet.VehiclesAsync(ct)).Count;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (registry.Current.Vehicles.Count < vehicles && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, ct);
        }
    }

    /// <summary>Replaces <c>{name}</c> with the sample of that name; an unknown name fails the test.</summary>
    public string Resolve(string text) => SampleName().Replace(text, match =>
        Samples.TryGetValue(match.Groups[1].Value, out var value)
            ? value
            : throw new InvalidOperationException($"No sample '{match.Groups[1].Value}' in AccessMatrix.Samples (used in '{text}')."));

    /// <summary>The user's shared session and its antiforgery token (from <c>/api/auth/me</c>).</summary>
    internal async Task<(HttpClient Client, string Token)> SessionAsync(string username, CancellationToken ct)
    {
        await _lock.WaitAsync(ct);
        try
        {
            if (!_sessions.TryGetValue(username, out var session))
            {
                var client = await _fleet.SessionAsync(username, ct);
                using var me = await client.GetAsync("/api/auth/me", ct);
                Assert.Equal(HttpStatusCode.OK, me.StatusCode);
                session = (client, Assert.Single(me.Headers.GetValues(SessionAntiforgery.HeaderName)));
                _sessions[username] = session;
            }

            return session;
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>A session of its own, signed in now; the token comes from the login response.</summary>
    internal async Task<(HttpClient Client, string Token)> FreshSessionAsync(string username, CancellationToken ct)
    {
        var client = Host.CreateSessionClient();
        using var login = await client.PostAsJsonAsync("/api/auth/login", new { username, password = _fleet.Passwords[username] }, ct);
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        return (client, Assert.Single(login.Headers.GetValues(SessionAntiforgery.HeaderName)));
    }

    /// <summary>The session cookie header for a hub connection (one login per user).</summary>
    internal async Task<string> CookieAsync(string username, CancellationToken ct)
    {
        await _lock.WaitAsync(ct);
        try
        {
            if (!_cookies.TryGetValue(username, out var cookie))
            {
                cookie = await SignalRJsonClientExtensions.LoginCookieAsync(Host.BaseAddress, username, _fleet.Passwords[username], ct);
                _cookies[username] = cookie;
            }

            return cookie;
        }
        finally
        {
            _lock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _fleet.DisposeAsync();
        _lock.Dispose();
    }

    [GeneratedRegex(@"\{([A-Za-z][A-Za-z0-9]*)\}")]
    private static partial Regex SampleName();
}
