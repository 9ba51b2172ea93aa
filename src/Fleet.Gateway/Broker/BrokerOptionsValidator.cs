using System.Globalization;
using Microsoft.Extensions.Options;

namespace Fleet.Gateway.Broker;

/// <summary>Checks <see cref="BrokerOptions"/> as a whole and reports every problem at once, naming the setting.</summary>
public sealed class BrokerOptionsValidator : IValidateOptions<BrokerOptions>
{
    public ValidateOptionsResult Validate(string? name, BrokerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        const string Prefix = BrokerOptions.Section + ":";

        if (string.IsNullOrWhiteSpace(options.PasswordFile))
        {
            failures.Add($"{Prefix}PasswordFile is not set (Mosquitto's password_file).");
        }

        if (string.IsNullOrWhiteSpace(options.AclFile))
        {
            failures.Add($"{Prefix}AclFile is not set (Mosquitto's acl_file).");
        }

        if (!string.IsNullOrWhiteSpace(options.PasswordFile) && !string.IsNullOrWhiteSpace(options.AclFile)
            && Path.GetFullPath(options.PasswordFile) == Path.GetFullPath(options.AclFile))
        {
            failures.Add($"{Prefix}PasswordFile and {Prefix}AclFile are the same file.");
        }

        var hasPid = !string.IsNullOrWhiteSpace(options.PidFile);
        var hasCommand = !string.IsNullOrWhiteSpace(options.ReloadCommand);
        if (hasPid == hasCommand)
        {
            failures.Add($"Set exactly one of {Prefix}PidFile (Mosquitto's pid_file, to send it SIGHUP) and {Prefix}ReloadCommand.");
        }

        var users = new List<string>();
        CheckUser(failures, users, "Gateway", options.GatewayUsername, options.GatewayPasswordHash, required: true);
        CheckUser(failures, users, "Simulator", options.SimulatorUsername, options.SimulatorPasswordHash, required: false);
        CheckUser(failures, users, "Admin", options.AdminUsername, options.AdminPasswordHash, required: false);
        foreach (var duplicate in users.GroupBy(u => u, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            failures.Add($"The broker user '{duplicate.Key}' is configured more than once; service users need distinct names.");
        }

        if (!BrokerConfigWriter.TryParseFileMode(options.FileMode, out _))
        {
            failures.Add($"{Prefix}FileMode '{options.FileMode}' is not an octal mode between 0000 and 0777 (for example 0640).");
        }

        if (!string.IsNullOrEmpty(options.FileOwner) && Environment.IsPrivilegedProcess && UnixNative.FindUserId(options.FileOwner) is null)
        {
            failures.Add($"{Prefix}FileOwner '{options.FileOwner}' is not a user on this machine; set it to the user Mosquitto runs as, or to \"\".");
        }

        if (!string.IsNullOrEmpty(options.FileGroup) && UnixNative.FindGroupId(options.FileGroup) is null)
        {
            failures.Add($"{Prefix}FileGroup '{options.FileGroup}' is not a group on this machine; set it to Mosquitto's group, or to \"\".");
        }

        if (options.DebounceMilliseconds is < 1 or > 60_000)
        {
            failures.Add($"{Prefix}DebounceMilliseconds must be between 1 and 60000 (it is {options.DebounceMilliseconds.ToString(CultureInfo.InvariantCulture)}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void CheckUser(List<string> failures, List<string> users, string role, string? username, string? hash, bool required)
    {
        var prefix = BrokerOptions.Section + ":" + role;
        var hasHash = !string.IsNullOrEmpty(hash);
        if (string.IsNullOrEmpty(username))
        {
            if (required || hasHash)
            {
                failures.Add($"{prefix}Username is not set.");
            }

            return;
        }

        if (!hasHash)
        {
            // A simulator or admin name with no hash only means that user is not wanted.
            if (required || role == "Admin")
            {
                failures.Add($"{prefix}PasswordHash is not set: give the Mosquitto $7$ hash of the {role.ToLowerInvariant()}'s password (mosquitto_passwd writes one).");
            }

            return;
        }

        if (!BrokerConfigWriter.IsValidUsername(username))
        {
            failures.Add($"{prefix}Username '{username}' may use only letters, digits and . _ - (at most 64).");
        }

        if (!BrokerConfigWriter.IsValidPasswordHash(hash!))
        {
            failures.Add($"{prefix}PasswordHash is not a Mosquitto password hash ($7$iterations$salt$hash or $6$salt$hash).");
        }

        users.Add(username);
    }
}
