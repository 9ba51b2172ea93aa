using System.Net;
using Fleet.Silo.Hosting;
using Fleet.Web.Auth;
using Fleet.Web.Live;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Fleet.Web.Metrics;

/// <summary>
/// <c>GET /metrics</c>: the Fleet instruments in the Prometheus text format 0.0.4, by our own small exporter
/// (<see cref="PrometheusExporter"/>; the OpenTelemetry Prometheus exporter is not on our package source).
/// Access: anonymous from loopback (a Prometheus or an agent on the same machine), otherwise an admin session only.
/// Loopback is the TCP peer: a reverse proxy on this machine that forwards outside traffic must not forward
/// <c>/metrics</c>, or must require its own login for it.
/// </summary>
public static class MetricsApi
{
    public const string Path = "/metrics";

    // The default-partition gauge needs a query; a scrape repeats it at most this often.
    private static readonly TimeSpan DefaultPartitionMaxAge = TimeSpan.FromSeconds(15);

    public static IServiceCollection AddFleetMetrics(this IServiceCollection services)
    {
        services.AddMetrics();
        services.TryAddSingleton<IHubConnectionCounter>(sp => sp.GetService<LiveBroadcaster>() is { } broadcaster
            ? new LiveSubscriberCounter(broadcaster)
            : NoHubConnections.Instance);
        services.TryAddSingleton<PrometheusExporter>();
        services.TryAddSingleton<WebMetrics>();
        return services;
    }

    public static IEndpointRouteBuilder MapMetricsApi(this IEndpointRouteBuilder endpoints)
    {
        // Listening from now on, before the host starts: a COPY timed before the first scrape still counts.
        endpoints.ServiceProvider.GetRequiredService<PrometheusExporter>();
        endpoints.MapGet(Path, ScrapeAsync).AllowAnonymous().ExcludeFromDescription();
        return endpoints;
    }

    /// <summary>Loopback peers, or a signed-in admin from anywhere.</summary>
    internal static bool IsAllowed(HttpContext context) =>
        IsLoopback(context.Connection.RemoteIpAddress) || context.User.IsInRole(FleetRoles.Admin);

    private static async Task<IResult> ScrapeAsync(HttpContext context, PrometheusExporter exporter, CancellationToken cancellationToken)
    {
        if (!IsAllowed(context))
        {
            return context.User.Identity?.IsAuthenticated == true
                ? TypedResults.Problem("Metrics are served to loopback clients and to admins only.", statusCode: StatusCodes.Status403Forbidden, title: "无权访问")
                : TypedResults.Problem("Metrics are served to loopback clients only; from elsewhere sign in as an admin.", statusCode: StatusCodes.Status401Unauthorized, title: "未登录");
        }

        // Observable only, so creating them at the first scrape loses nothing; earlier, they would pull in the live
        // hub and the database before the host has validated its options.
        context.RequestServices.GetRequiredService<WebMetrics>();
        if (context.RequestServices.GetService<PositionsDefaultMonitor>() is { } defaultPartition)
        {
            await defaultPartition.RefreshAsync(DefaultPartitionMaxAge, cancellationToken);
        }

        context.Response.Headers.CacheControl = "no-store";
        return TypedResults.Text(exporter.Scrape(), PrometheusExporter.ContentType);
    }

    private static bool IsLoopback(IPAddress? address) =>
        address is not null && IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);
}
