using System.Text.Json;
using Fleet.Silo.Hosting;
using Fleet.Silo.Shards;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Fleet.Web.Health;

/// <summary><c>GET /health</c>: one entry per dependency; 200 when all are healthy, 503 otherwise.</summary>
public static class HealthApi
{
    /// <summary>
    /// The checks: "database", "positions-default" (reports landing in the default partition) and, where the shard
    /// host runs, "silo". The gateway adds "gateway" itself where it runs (<c>AddFleetGateway</c>).
    /// </summary>
    public static IServiceCollection AddFleetHealth(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database", tags: ["ready"])
            .AddCheck<PositionsDefaultHealthCheck>("positions-default");

        // Decided when the options are first read, after every registration, so the order of the Add calls does not matter.
        services.Configure<HealthCheckServiceOptions>(options =>
        {
            if (services.Any(d => d.ServiceType == typeof(ShardHost)))
            {
                options.Registrations.Add(new HealthCheckRegistration(
                    "silo",
                    sp => ActivatorUtilities.CreateInstance<ShardHostHealthCheck>(sp),
                    failureStatus: null,
                    tags: null));
            }
        });
        return services;
    }

    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapHealthChecks("/health", new HealthCheckOptions
        {
            ResponseWriter = WriteReportAsync,
            ResultStatusCodes =
            {
                [HealthStatus.Healthy] = StatusCodes.Status200OK,
                // Degraded still serves (for example, the gateway is holding back acknowledgements), but says so.
                [HealthStatus.Degraded] = StatusCodes.Status200OK,
                [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
            },
        }).AllowAnonymous();
        return endpoints;
    }

    private static Task WriteReportAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        var body = new HealthResponse(
            report.Status.ToString(),
            report.TotalDuration.TotalMilliseconds,
            report.Entries.ToDictionary(
                e => e.Key,
                e => new HealthEntry(e.Value.Status.ToString(), e.Value.Description, e.Value.Duration.TotalMilliseconds)));
        return JsonSerializer.SerializeAsync(context.Response.Body, body, HealthJsonContext.Default.HealthResponse, context.RequestAborted);
    }
}

public sealed record HealthEntry(string Status, string? Description, double DurationMs);

public sealed record HealthResponse(string Status, double DurationMs, IReadOnlyDictionary<string, HealthEntry> Checks);
