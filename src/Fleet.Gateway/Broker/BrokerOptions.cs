namespace Fleet.Gateway.Broker;

/// <summary>
/// Where the broker's password and ACL files go and how Mosquitto is told to reload them, bound from <c>Fleet:Broker</c>
/// and checked by <see cref="BrokerOptionsValidator"/> when the host starts. Service users are given as Mosquitto
/// <c>$7$</c> hashes, so writing the files needs no plaintext.
/// </summary>
public sealed class BrokerOptions
{
    public const string Section = "Fleet:Broker";

    /// <summary>Mosquitto's <c>password_file</c>; rewritten whole, atomically.</summary>
    public string PasswordFile { get; set; } = "";

    /// <summary>Mosquitto's <c>acl_file</c>; rewritten whole, atomically.</summary>
    public string AclFile { get; set; } = "";

    /// <summary>Mosquitto's <c>pid_file</c>: the process that gets SIGHUP after a rewrite. Set this or <see cref="ReloadCommand"/>.</summary>
    public string? PidFile { get; set; }

    /// <summary>A shell command that makes the broker reload (for example <c>systemctl reload mosquitto</c>), instead of <see cref="PidFile"/>.</summary>
    public string? ReloadCommand { get; set; }

    public string GatewayUsername { get; set; } = "fleet-gateway";

    public string GatewayPasswordHash { get; set; } = "";

    /// <summary>The simulator's user; it is left out of the files while <see cref="SimulatorPasswordHash"/> is empty (production).</summary>
    public string SimulatorUsername { get; set; } = "fleet-simulator";

    public string SimulatorPasswordHash { get; set; } = "";

    /// <summary>An optional user with full access (operations, debugging); needs <see cref="AdminPasswordHash"/>.</summary>
    public string? AdminUsername { get; set; }

    public string? AdminPasswordHash { get; set; }

    /// <summary>Octal mode of the written files; they hold hashes, so not world-readable.</summary>
    public string FileMode { get; set; } = "0640";

    /// <summary>
    /// Owner given to the written files when this process runs as root (only root can give a file away); Mosquitto
    /// started as root drops to this user before it reads the files. Empty keeps the writer as owner.
    /// </summary>
    public string? FileOwner { get; set; } = "mosquitto";

    /// <summary>Group given to the written files, so the broker can read them through <see cref="FileMode"/>. Empty keeps the writer's group.</summary>
    public string? FileGroup { get; set; } = "mosquitto";

    /// <summary>A burst of registry changes becomes one rewrite after this much quiet.</summary>
    public int DebounceMilliseconds { get; set; } = 200;
}
