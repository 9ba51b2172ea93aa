using System.Globalization;
using Fleet.Silo.Grains;
using Fleet.Web.Auth;
using Microsoft.AspNetCore.SignalR;

namespace Fleet.Web.Live;

/// <summary>
/// What a client asks to watch, as it arrives: <c>{ kind: "all" | "region" | "department" | "zone" | "bbox",
/// id?: number, bbox?: [minLon, minLat, maxLon, maxLat] }</c>. Checked and narrowed to the user's scope by
/// <see cref="LiveFilter.Resolve"/>.
/// </summary>
public sealed record LiveScope(string? Kind, int? Id, IReadOnlyList<double>? Bbox);

public enum LiveFilterKind
{
    /// <summary>Matches no vehicle: a department-bound user who has no department (fail closed).</summary>
    Nothing,
    All,
    Region,
    Department,
    Zone,
    Bbox,
}

/// <summary>A WGS-84 box, edges included.</summary>
public readonly record struct LiveBox(double MinLon, double MinLat, double MaxLon, double MaxLat)
{
    public bool Contains(double lat, double lon) => lon >= MinLon && lon <= MaxLon && lat >= MinLat && lat <= MaxLat;
}

/// <summary>
/// A subscription's effective filter: what was asked for, intersected with what the user may see
/// (<see cref="DepartmentLimit"/>). The fan-out applies it to every row it sends, so the limit holds for frames as
/// much as for snapshots, whatever the registry says at that moment.
/// </summary>
public sealed record LiveFilter(LiveFilterKind Kind, int Id, LiveBox Box, int? DepartmentLimit)
{
    public static readonly LiveFilter Nothing = new(LiveFilterKind.Nothing, 0, default, null);

    /// <summary>
    /// The SignalR group of the subscribers that share this filter (they get the same frames, serialised once), or
    /// null when it is per connection (bbox: each keeps its own set of vehicles inside) or matches nothing.
    /// </summary>
    public string? GroupKey => Kind switch
    {
        LiveFilterKind.All or LiveFilterKind.Region or LiveFilterKind.Department or LiveFilterKind.Zone =>
            DepartmentLimit is { } limit && !(Kind == LiveFilterKind.Department && Id == limit)
                ? string.Create(CultureInfo.InvariantCulture, $"{BaseKey}/dept:{limit}")
                : BaseKey,
        _ => null,
    };

    private string BaseKey => Kind switch
    {
        LiveFilterKind.Region => string.Create(CultureInfo.InvariantCulture, $"region:{Id}"),
        LiveFilterKind.Department => string.Create(CultureInfo.InvariantCulture, $"dept:{Id}"),
        LiveFilterKind.Zone => string.Create(CultureInfo.InvariantCulture, $"zone:{Id}"),
        _ => "all",
    };

    /// <summary>Whether <paramref name="state"/> is in this filter, by the registry's current picture.</summary>
    public bool Matches(VehicleLiveState state, LiveRegistrySnapshot registry)
    {
        var known = registry.Vehicles.TryGetValue(state.VehicleId, out var place);
        return Matches(state, known, place);
    }

    /// <summary>
    /// Whether <paramref name="state"/>, whose registry entry was already looked up, is in this filter. A vehicle the
    /// registry does not know (yet) matches only an unlimited "all" or bbox: nobody department-bound sees a vehicle
    /// whose department is not known.
    /// </summary>
    public bool Matches(VehicleLiveState state, bool known, in VehiclePlace place)
    {
        if (Kind == LiveFilterKind.Nothing)
        {
            return false;
        }

        if (DepartmentLimit is { } limit && (!known || place.Department.Id != limit))
        {
            return false;
        }

        return Kind switch
        {
            LiveFilterKind.All => true,
            LiveFilterKind.Bbox => Box.Contains(state.Lat, state.Lon),
            LiveFilterKind.Department => known && place.Department.Id == Id,
            LiveFilterKind.Zone => known && place.ZoneId == Id,
            LiveFilterKind.Region => known && place.Department.IsIn(Id),
            _ => false,
        };
    }

    /// <summary>
    /// Checks <paramref name="scope"/> and narrows it to what <paramref name="user"/> may see. Malformed scopes get a
    /// message that says what is wrong; a scope beyond the user's department gets "forbidden", whether or not the
    /// region, department or zone exists, so ids cannot be probed.
    /// </summary>
    /// <exception cref="HubException">The scope is malformed, unknown, or not the user's to see.</exception>
    public static LiveFilter Resolve(LiveScope? scope, UserScope user, LiveRegistrySnapshot registry)
    {
        if (scope is null)
        {
            throw new HubException("A scope is required: { kind: \"all\" | \"region\" | \"department\" | \"zone\" | \"bbox\", id?, bbox? }.");
        }

        var kind = scope.Kind switch
        {
            "all" => LiveFilterKind.All,
            "region" => LiveFilterKind.Region,
            "department" => LiveFilterKind.Department,
            "zone" => LiveFilterKind.Zone,
            "bbox" => LiveFilterKind.Bbox,
            _ => throw new HubException(
                $"Unknown scope kind '{scope.Kind}': expected one of all, region, department, zone, bbox."),
        };

        var id = 0;
        var box = default(LiveBox);
        if (kind is LiveFilterKind.Region or LiveFilterKind.Department or LiveFilterKind.Zone)
        {
            if (scope.Id is not { } given || given <= 0)
            {
                throw new HubException($"Scope kind '{scope.Kind}' needs a positive id.");
            }

            if (scope.Bbox is not null)
            {
                throw new HubException($"Scope kind '{scope.Kind}' takes no bbox.");
            }

            id = given;
        }
        else
        {
            if (scope.Id is not null)
            {
                throw new HubException($"Scope kind '{scope.Kind}' takes no id.");
            }

            if (kind == LiveFilterKind.Bbox)
            {
                box = ParseBox(scope.Bbox);
            }
            else if (scope.Bbox is not null)
            {
                throw new HubException("Scope kind 'all' takes no bbox.");
            }
        }

        return user.SeesAllDepartments ? ForEveryDepartment(kind, id, box, registry) : ForOneDepartment(kind, id, box, user, registry);
    }

    private static LiveFilter ForEveryDepartment(LiveFilterKind kind, int id, LiveBox box, LiveRegistrySnapshot registry)
    {
        // These users may see everything, so saying that an id does not exist reveals nothing.
        var exists = kind switch
        {
            LiveFilterKind.Region => registry.Regions.Contains(id),
            LiveFilterKind.Department => registry.Departments.ContainsKey(id),
            LiveFilterKind.Zone => registry.Zones.Contains(id),
            _ => true,
        };
        if (!exists)
        {
            throw new HubException(string.Create(CultureInfo.InvariantCulture, $"There is no {Name(kind)} {id}."));
        }

        return new LiveFilter(kind, id, box, null);
    }

    private static LiveFilter ForOneDepartment(LiveFilterKind kind, int id, LiveBox box, UserScope user, LiveRegistrySnapshot registry)
    {
        if (user.DepartmentId is not { } own || !registry.Departments.TryGetValue(own, out var department))
        {
            // Fail closed: "all I may see" is nothing, and anything narrower is not theirs.
            return kind == LiveFilterKind.All ? Nothing : throw Forbidden();
        }

        var allowed = kind switch
        {
            LiveFilterKind.Department => id == own,
            LiveFilterKind.Region => department.IsIn(id),
            LiveFilterKind.Zone => department.ZoneId == id,
            _ => true,
        };
        if (!allowed)
        {
            throw Forbidden();
        }

        // Asking for their own department, or for "all", is the same filter and the same group.
        return kind is LiveFilterKind.All or LiveFilterKind.Department
            ? new LiveFilter(LiveFilterKind.Department, own, default, own)
            : new LiveFilter(kind, id, box, own);
    }

    private static LiveBox ParseBox(IReadOnlyList<double>? bbox)
    {
        const string Shape = "bbox must be [minLon, minLat, maxLon, maxLat]";
        if (bbox is not { Count: 4 })
        {
            throw new HubException($"{Shape}: four numbers.");
        }

        var box = new LiveBox(bbox[0], bbox[1], bbox[2], bbox[3]);
        if (!IsLon(box.MinLon) || !IsLon(box.MaxLon) || !IsLat(box.MinLat) || !IsLat(box.MaxLat))
        {
            throw new HubException($"{Shape}: longitudes within -180..180 and latitudes within -90..90.");
        }

        if (box.MinLon >= box.MaxLon || box.MinLat >= box.MaxLat)
        {
            // A box across the antimeridian is not supported; China is nowhere near it.
            throw new HubException($"{Shape}: min below max on both axes.");
        }

        return box;
    }

    private static bool IsLon(double value) => value is >= -180 and <= 180;

    private static bool IsLat(double value) => value is >= -90 and <= 90;

    private static string Name(LiveFilterKind kind) => kind switch
    {
        LiveFilterKind.Region => "region",
        LiveFilterKind.Department => "department",
        _ => "zone",
    };

    private static HubException Forbidden() => new("forbidden");
}
