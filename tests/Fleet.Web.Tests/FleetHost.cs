using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;

namespace Fleet.Web.Tests;

/// <summary>The real Fleet host on Kestrel, on a free loopback port, configured by the test.</summary>
internal sealed class FleetHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<HttpClient> _sessions = [];

    private FleetHost(WebApplication app, HttpClient client)
    {
        _app = app;
        Client = client;
    }

    public HttpClient Client { get; }

    public IServiceProvider Services => _app.Services;

    public Uri BaseAddress => Client.BaseAddress!;

    public static WebApplication Build(IDictionary<string, string?> settings, Action<WebApplicationBuilder>? configure = null) =>
        FleetApp.Build([], builder =>
        {
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Logging:LogLevel:Default"] = "Warning",
                // The map page from the source tree (the build bundles it there), not from the test's own folder.
                [Fleet.Web.Site.FleetUi.WebRootSetting] = TestPaths.WebRoot,
            });
            builder.Configuration.AddInMemoryCollection(settings);
            configure?.Invoke(builder);
        });

    public static Task<FleetHost> StartAsync(string connectionString, CancellationToken cancellationToken) =>
        StartAsync(connectionString, null, cancellationToken);

    /// <param name="configure">Runs before Fleet registers its services: a test can put in its own TimeProvider,
    /// ILiveStateReader or settings, and Fleet's defaults step aside.</param>
    public static async Task<FleetHost> StartAsync(string connectionString, Action<WebApplicationBuilder>? configure, CancellationToken cancellationToken)
    {
        var app = Build(new Dictionary<string, string?> { ["Fleet:Database:ConnectionString"] = connectionString }, configure);
        await app.StartAsync(cancellationToken);
        var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()), Timeout = TimeSpan.FromSeconds(30) };
        return new FleetHost(app, client);
    }

    /// <summary>
    /// A client with its own cookie jar, as a browser session would have, that does not follow redirects (so a
    /// redirect to a login page shows up as one). Disposed with the host.
    /// </summary>
    public HttpClient CreateSessionClient()
    {
        var handler = new HttpClientHandler { CookieContainer = new CookieContainer(), UseCookies = true, AllowAutoRedirect = false };
        var client = new HttpClient(new Security.AntiforgeryTokenHandler(handler)) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        _sessions.Add(client);
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var session in _sessions)
        {
            session.Dispose();
        }

        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
