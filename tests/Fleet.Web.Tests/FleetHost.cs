using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;

namespace Fleet.Web.Tests;

/// <summary>The real Fleet host on Kestrel, on a free loopback port, configured by the test.</summary>
internal sealed class FleetHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FleetHost(WebApplication app, HttpClient client)
    {
        _app = app;
        Client = client;
    }

    public HttpClient Client { get; }

    public IServiceProvider Services => _app.Services;

    public static WebApplication Build(IDictionary<string, string?> settings) =>
        FleetApp.Build([], builder =>
        {
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Logging:LogLevel:Default"] = "Warning",
            });
            builder.Configuration.AddInMemoryCollection(settings);
        });

    public static async Task<FleetHost> StartAsync(string connectionString, CancellationToken cancellationToken)
    {
        var app = Build(new Dictionary<string, string?> { ["Fleet:Database:ConnectionString"] = connectionString });
        await app.StartAsync(cancellationToken);
        var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()), Timeout = TimeSpan.FromSeconds(30) };
        return new FleetHost(app, client);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
