using Fleet.Web.Audit;
using Fleet.Web.Auth;

namespace Fleet.Web.Admin;

/// <summary>Registers and maps the audit log, user administration and API tokens in one call each, for FleetApp.</summary>
public static class AdminApi
{
    /// <summary>Call after AddFleetAuth: the token scheme becomes part of the default authentication.</summary>
    public static IServiceCollection AddFleetAdmin(this IServiceCollection services) =>
        services.AddFleetAudit().AddFleetApiTokens();

    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapAuditApi().MapUsersAdminApi().MapApiTokensApi();
}
