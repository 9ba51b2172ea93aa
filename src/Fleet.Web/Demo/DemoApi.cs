namespace Fleet.Web.Demo;

public static class DemoApi
{
    /// <summary>Registers the demo seeding. Call after <c>AddFleetDatabase</c>, so it runs after the migrations.</summary>
    public static IServiceCollection AddFleetDemo(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DemoOptions>()
            .Bind(configuration.GetSection(DemoOptions.Section))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddHostedService<DemoSeeding>();
        return services;
    }
}
