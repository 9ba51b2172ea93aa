using Fleet.Silo.Hosting;
using Fleet.Silo.Shards;
using Fleet.Web.Admin;
using Fleet.Web.Api;
using Fleet.Web.Auth;
using Fleet.Web.Demo;
using Fleet.Web.Health;
using Fleet.Web.Hosting;
using Fleet.Web.Live;
using Fleet.Web.Logging;
using Fleet.Web.Map;
using Fleet.Web.Metrics;
using Fleet.Web.Registry;
using Fleet.Web.Site;
using Fleet.Web.Stats;
using Fleet.Web.Telemetry;
using Fleet.Web.Terminals;
using Fleet.Web.Vehicles;

namespace Fleet.Web;

/// <summary>
/// Builds the co-hosted Fleet application. Tests call this with their own configuration to run the real
/// host on Kestrel against real servers, instead of a test double of it.
/// </summary>
public static class FleetApp
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        configure?.Invoke(builder);
        builder.AddFleetLogging();

        builder.Services.AddProblemDetails();
        builder.Services.AddFleetJson();
        builder.Services.AddFleetDatabase(builder.Configuration);
        // Seeding runs right after the migrations, so the broker sync and the gateway start with the registry filled.
        builder.Services.AddFleetDemo(builder.Configuration);
        builder.Services.AddFleetSilo(builder.Configuration);
        builder.Services.AddFleetIngestion(builder.Configuration);
        builder.Services.AddFleetHealth();
        builder.Services.AddFleetMetrics();
        builder.Services.AddFleetAuth(builder.Configuration);
        builder.Services.AddFleetAdmin();
        builder.Services.AddFleetVehicles();
        builder.Services.AddFleetMap(builder.Configuration);
        builder.Services.AddFleetLive();

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseFleetUi();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseSessionAntiforgery();
        app.UseRateLimiter();
        app.MapHealthApi();
        app.MapMetricsApi();
        app.MapAuthApi();
        app.MapVehiclesApi();
        app.MapStatsApi();
        app.MapTelemetryApi();
        app.MapRegistryApi();
        app.MapTerminalsApi();
        app.MapAdminApi();
        app.MapMapApi();
        app.MapLiveHub();
        return app;
    }
}
