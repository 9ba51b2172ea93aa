using Fleet.Silo.Hosting;
using Fleet.Web.Health;

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

        builder.Services.AddProblemDetails();
        builder.Services.AddFleetDatabase(builder.Configuration);
        builder.Services.AddFleetHealth();

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapHealthApi();
        return app;
    }
}
