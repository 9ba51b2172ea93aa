using Fleet.Gateway.Broker;
using Fleet.Gateway.Ingestion;

namespace Fleet.Web.Hosting;

public static class IngestionHosting
{
    /// <summary>
    /// The co-hosted default runs the broker sync and the gateway next to the web host, each when its settings are
    /// present (./fleet up sets both). A host with only a database, a web-only node or a test, still starts.
    /// Call after <c>AddFleetSilo</c>: the gateway feeds the shard host, which must start first and stop last.
    /// </summary>
    public static IServiceCollection AddFleetIngestion(this IServiceCollection services, IConfiguration configuration)
    {
        if (!string.IsNullOrWhiteSpace(configuration[$"{BrokerOptions.Section}:PasswordFile"]))
        {
            services.AddFleetBroker(configuration);
        }

        if (!string.IsNullOrWhiteSpace(configuration["Fleet:Mqtt:Host"]))
        {
            services.AddFleetGateway(configuration);
        }

        return services;
    }
}
