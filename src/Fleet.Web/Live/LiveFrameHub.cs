using Fleet.Silo.Shards;
using Fleet.Web.Auth;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;

namespace Fleet.Web.Live;

/// <summary>
/// <c>/hubs/live</c>: the live map's feed. <c>Subscribe(scope)</c> returns a snapshot and sets the connection's one
/// subscription; the server then calls <c>frame</c> with the changes in it, at most once per
/// <see cref="LiveOptions.FrameInterval"/>; <c>Unsubscribe()</c> stops them. Any signed-in role may connect; what
/// each receives is limited to their <see cref="UserScope"/> by the filter the broadcaster applies to every row.
/// </summary>
[Authorize(Policy = FleetPolicies.Registry)]
public sealed partial class LiveFrameHub(
    LiveBroadcaster broadcaster,
    LiveRegistry registry,
    ShardHost shards,
    IOptions<LiveOptions> options,
    TimeProvider timeProvider,
    ILogger<LiveFrameHub> logger) : Hub
{
    public const string Path = "/hubs/live";

    public async Task<LiveSnapshot> Subscribe(LiveScope scope)
    {
        var user = CurrentUser();
        var ct = Context.ConnectionAborted;
        try
        {
            await registry.Loaded.WaitAsync(options.Value.RegistryWait, timeProvider, ct);
        }
        catch (TimeoutException)
        {
            throw new HubException("The vehicle registry is not loaded yet; try again shortly.");
        }

        LiveFilter filter;
        try
        {
            filter = LiveFilter.Resolve(scope, user, registry.Current);
        }
        catch (HubException ex)
        {
            LogRefused(logger, user.Username, user.Role, scope?.Kind, scope?.Id, ex.Message);
            throw;
        }

        return await broadcaster.SubscribeAsync(Context.ConnectionId, filter, shards.EnumerateLiveStates(), ct);
    }

    public Task Unsubscribe()
    {
        CurrentUser();
        return broadcaster.UnsubscribeAsync(Context.ConnectionId, Context.ConnectionAborted);
    }

    public override async Task OnDisconnectedAsync(Exception? exception)
    {
        await broadcaster.UnsubscribeAsync(Context.ConnectionId, CancellationToken.None);
        await base.OnDisconnectedAsync(exception);
    }

    // The policy already let only Fleet sessions in; this is the belt to its braces, and the scope every call needs.
    private UserScope CurrentUser() =>
        Context.User is { } principal && UserScope.FromPrincipal(principal) is { } user ? user : throw new HubException("forbidden");

    [LoggerMessage(Level = LogLevel.Information, Message = "Live subscription refused for {Username} ({Role}): {Kind} {Id}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string username, string role, string? kind, int? id, string reason);
}
