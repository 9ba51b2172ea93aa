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
/// The cookie is checked once, when the socket opens, so <c>Subscribe</c> rechecks the session against <c>users</c>
/// as REST does on every request, and the broadcaster rechecks its subscribers every
/// <see cref="LiveOptions.SessionRecheckInterval"/>; a session that no longer stands gets "forbidden" and the
/// connection closed.
/// </summary>
[Authorize(Policy = FleetPolicies.Registry)]
public sealed partial class LiveFrameHub(
    LiveBroadcaster broadcaster,
    AccountStore accounts,
    LiveRegistry registry,
    ShardHost shards,
    IOptions<LiveOptions> options,
    TimeProvider timeProvider,
    ILogger<LiveFrameHub> logger) : Hub
{
    public const string Path = "/hubs/live";

    // An abort drops the replies not yet written, and "forbidden" is what tells the page to sign in again rather than
    // retry; this gives the reply time to leave first. Meanwhile the connection has no subscription, and another
    // Subscribe meets the same check.
    private static readonly TimeSpan ReplyGrace = TimeSpan.FromMilliseconds(250);

    public async Task<LiveSnapshot> Subscribe(LiveScope scope)
    {
        var user = CurrentUser();
        var ct = Context.ConnectionAborted;
        // The claims are those of the connect: the user may since have been disabled, demoted or moved.
        if (!await accounts.IsSessionCurrentAsync(user, ct))
        {
            LogStaleSession(logger, Context.ConnectionId, user.Username, user.Role, user.DepartmentId);
            // Any earlier subscription was granted to the session that no longer stands: it ends now, not at the
            // next recheck.
            await broadcaster.UnsubscribeAsync(Context.ConnectionId, ct);
            _ = CloseAfterReplyAsync(Context, timeProvider);
            throw new HubException("forbidden");
        }

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

        return await broadcaster.SubscribeAsync(Context, user, filter, shards.EnumerateLiveStates(), ct);
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

    private static async Task CloseAfterReplyAsync(HubCallerContext connection, TimeProvider timeProvider)
    {
        try
        {
            await Task.Delay(ReplyGrace, timeProvider, connection.ConnectionAborted);
        }
        catch (OperationCanceledException)
        {
            // The client went first.
            return;
        }

        connection.Abort();
    }

    // The policy already let only Fleet sessions in; this is the belt to its braces, and the scope every call needs.
    private UserScope CurrentUser() =>
        Context.User is { } principal && UserScope.FromPrincipal(principal) is { } user ? user : throw new HubException("forbidden");

    [LoggerMessage(Level = LogLevel.Warning, Message = "Live subscription on {ConnectionId} refused for {Username} ({Role}, department {DepartmentId}): the session no longer stands; closing the connection")]
    private static partial void LogStaleSession(ILogger logger, string connectionId, string username, string role, int? departmentId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Live subscription refused for {Username} ({Role}): {Kind} {Id}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string username, string role, string? kind, int? id, string reason);
}
