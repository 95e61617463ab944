; Inno Setup script for the OrderHub station on Windows (Inno Setup 6.3 or newer).
; Built by installer\build_windows.ps1 after PyInstaller has made dist\orderhub\; by hand:
;   ISCC.exe /DAppVersion=0.1.0 /DStationCommand=demo installer\orderhub.iss
; Saved as UTF-8 with a byte-order mark, which is how Inno Setup reads the Chinese names below.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef StationCommand
  ; the subcommand the Start-menu entry runs: "station" where the program has it, else "demo"
  #define StationCommand "demo"
#endif
#define AppName "OrderHub 订单中枢"
#define Bundle "..\dist\orderhub"

[Setup]
; AppId identifies OrderHub to Windows for upgrades and uninstall: never change it.
AppId={{6C1E7B2A-4F0D-4C55-9B7E-0D5A1E2F8C31}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=OrderHub
DefaultDirName={autopf}\OrderHub
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; per-machine by default (IT installs 20 stations); a user without admin rights may install for themselves
PrivilegesRequired=admin
PrivilegesRequiredOverridesAllowed=dialog commandline
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir=..\dist
OutputBaseFilename=OrderHub-Setup-{#AppVersion}
SetupIconFile=..\resources\icons\orderhub.ico
UninstallDisplayIcon={app}\OrderHubStation.exe
UninstallDisplayName={#AppName}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
; a station still running keeps its files open: ask to close it before replacing them
CloseApplications=yes

[Languages]
#if FileExists(AddBackslash(CompilerPath) + "Languages\ChineseSimplified.isl")
Name: "chinesesimplified"; MessagesFile: "compiler:Languages\ChineseSimplified.isl"
#endif
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
; the whole PyInstaller bundle: OrderHubStation.exe (window), orderhub.exe (command line), _internal\
; with Python, Qt, the fonts, the map, the migrations and PostgreSQL
Source: "{#Bundle}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
Source: "README-windows.md"; DestDir: "{app}"; DestName: "README-windows.txt"; Flags: ignoreversion

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\OrderHubStation.exe"; Parameters: "{#StationCommand}"; WorkingDir: "{app}"; Comment: "订单中枢工作台 / OrderHub station"
Name: "{group}\OrderHub 命令行 (command line)"; Filename: "{cmd}"; Parameters: "/k ""{app}\orderhub.exe"" --help"; WorkingDir: "{userdocs}"; IconFilename: "{app}\orderhub.exe"
Name: "{group}\USB 打印机说明 (USB printers)"; Filename: "{app}\README-windows.txt"
Name: "{group}\{cm:UninstallProgram,OrderHub}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\OrderHubStation.exe"; Parameters: "{#StationCommand}"; WorkingDir: "{app}"; Tasks: desktopicon

[Run]
Filename: "{app}\OrderHubStation.exe"; Parameters: "{#StationCommand}"; Description: "{cm:LaunchProgram,OrderHub}"; Flags: nowait postinstall skipifsilent

; The station's data (embedded database, outbox, cache) lives in %LOCALAPPDATA%\OrderHub and its settings
; in %LOCALAPPDATA%\OrderHub\config.toml (platformdirs): uninstalling leaves both, so a reinstall or an
; upgrade finds its orders again. Delete that folder by hand to remove a station's data for good.
